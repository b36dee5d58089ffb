"""The `runledger` command: serve the API and manage API keys."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

import uvicorn

from api.app import create_app, open_ledger
from api.logs import configure_logging
from api.settings import Settings
from domain.errors import UnknownApiKey
from domain.keys import KeyRing

log = logging.getLogger("runledger.cli")

FIRST_WORKSPACE = "default"


def _settings(args: argparse.Namespace, env: Mapping[str, str]) -> Settings:
    overrides = dict(env)
    if getattr(args, "data", None):
        overrides["RUNLEDGER_DATA_DIR"] = args.data
    if getattr(args, "host", None):
        overrides["RUNLEDGER_HOST"] = args.host
    if getattr(args, "port", None):
        overrides["RUNLEDGER_PORT"] = str(args.port)
    return Settings.from_env(overrides)


def ensure_first_key(settings: Settings) -> None:
    """On a log with no keys at all, create one and leave it in the data folder for the user."""
    ledger = open_ledger(settings)
    try:
        keys = KeyRing(ledger)
        if keys.list():
            return
        key, info = keys.create(FIRST_WORKSPACE)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.first_key_path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(key + "\n")
        log.info(
            "created the first API key; read it from the file, then keep it somewhere safe",
            extra={
                "path": str(path.resolve()),
                "workspace": info.workspace.name,
                "key_shown": info.shown,
            },
        )
    finally:
        ledger.close()


def serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _settings(args, env)
    configure_logging(settings.log_level)
    ensure_first_key(settings)
    config = uvicorn.Config(
        create_app(env, settings),
        host=settings.host,
        port=settings.port,
        # One worker: the embedded ClickHouse engine allows one process per data folder.
        workers=1,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
    )
    uvicorn.Server(config).run()
    return 0


def keys_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _settings(args, env)
    ledger = open_ledger(settings)
    try:
        keys = KeyRing(ledger)
        if args.keys_command == "create":
            key, info = keys.create(args.workspace)
            print(key)
            print(
                f"workspace {info.workspace.name} ({info.workspace.id}); shown as {info.shown}. "
                "This is the only time the key is printed.",
                file=sys.stderr,
            )
        elif args.keys_command == "list":
            for info in keys.list():
                state = "revoked" if info.revoked else "active"
                print(
                    f"{info.shown}\t{info.workspace.name}\t{info.created_at.isoformat()}\t{state}"
                )
        else:
            try:
                info = keys.revoke(args.shown)
            except UnknownApiKey as error:
                print(f"runledger: {error}", file=sys.stderr)
                return 1
            print(f"revoked {info.shown} of workspace {info.workspace.name}")
    finally:
        ledger.close()
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    root = argparse.ArgumentParser(prog="runledger", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser(
        "serve", help="serve the API (embedded SQLite log by default)"
    )
    serve_parser.add_argument(
        "--data", help="data folder (RUNLEDGER_DATA_DIR, default ./.runledger)"
    )
    serve_parser.add_argument(
        "--host", help="address to listen on (RUNLEDGER_HOST, default 127.0.0.1)"
    )
    serve_parser.add_argument("--port", type=int, help="port (RUNLEDGER_PORT, default 8000)")
    serve_parser.set_defaults(handler=serve)

    # --data goes before or after the key subcommand (`keys --data D list`, `keys list --data D`);
    # SUPPRESS keeps the subcommand's parser from resetting a value given before it.
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", default=argparse.SUPPRESS, help="data folder (RUNLEDGER_DATA_DIR)")
    keys_parser = commands.add_parser(
        "keys", help="create, list and revoke API keys", parents=[data]
    )
    key_commands = keys_parser.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key, print it once", parents=[data])
    create.add_argument("--workspace", required=True, help="the workspace the key acts for")
    key_commands.add_parser("list", help="list keys (never the secrets)", parents=[data])
    revoke = key_commands.add_parser(
        "revoke", help="revoke a key by its shown prefix", parents=[data]
    )
    revoke.add_argument("shown", help="the prefix `keys list` shows")
    keys_parser.set_defaults(handler=keys_command)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `runledger` console script."""
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args, os.environ)
    except (ValueError, OSError) as error:
        # Bad settings or arguments: one line, not a traceback.
        print(f"runledger: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
