"""The `runledger` command: serve the API, manage API keys and deployments, rebuild."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx
import orjson
import uvicorn
from starlette.types import ASGIApp

from api import transfer_commands
from api.admin_client import remove_address, server_admin, write_address
from api.app import create_app, open_ledger, read_admin_token
from api.connections import guarded_protocol
from api.live import LiveProjections
from api.locks import migration_lock, writer_lock
from api.logs import configure_logging
from api.routes.audit import audit_signing_key
from api.settings import Settings
from domain.deployments import Deployments
from domain.errors import DeploymentNotFound, UnknownApiKey
from domain.keys import KeyRing, workspace_id_for
from domain.log.checkpoint import BadCheckpoint, Checkpoint, key_id
from domain.log.ledger import Ledger
from projections.clickhouse import connect
from projections.generations import Generations
from projections.leader import holding
from projections.migrations import apply_migrations
from projections.replay import replay, verify
from runtime import entrypoints

log = logging.getLogger("runledger.cli")

FIRST_WORKSPACE = "default"


def installed_version() -> str:
    """The installed distribution's version (a checkout without an install has none)."""
    try:
        return version("runledger")
    except PackageNotFoundError:
        return "0+unknown"


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


def ensure_admin_token(settings: Settings) -> None:
    """Without RUNLEDGER_ADMIN_TOKEN, leave one in the data folder for `replay` and `verify`."""
    if settings.admin_token or settings.admin_token_path.exists():
        return
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.admin_token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32) + "\n")


def server_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How `serve` runs the app under uvicorn (tests serve it the same way)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # One worker: the embedded ClickHouse engine allows one process per data folder.
        workers=1,
        http=guarded_protocol(settings.connection_limits),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
    )


def serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = _settings(args, env)
    configure_logging(settings.log_level)
    ensure_first_key(settings)
    ensure_admin_token(settings)
    app = create_app(env, settings)
    config = server_config(app, settings)
    # Bound here, before serving, so the address the port resolved to (`--port 0` too) can be
    # left for `replay` and `verify`, which must reach this server and no other; the app's
    # shutdown removes it.
    sock = config.bind_socket()
    url = app.state.served_url = write_address(settings, settings.host, sock.getsockname()[1])
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        remove_address(settings, url)
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


def _progress(position: int, head: int) -> None:
    done = position / head if head else 1.0
    bar = "#" * int(done * 30)
    print(f"\r[{bar:<30}] {done:6.1%}  {position}/{head}", end="", file=sys.stderr, flush=True)


def _server_admin(args: argparse.Namespace, settings: Settings) -> httpx.Client | None:
    token = settings.admin_token or read_admin_token(settings)
    return server_admin(settings, token, getattr(args, "server", None))


def replay_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Rebuild the projections aside and switch to them, through the server if one runs."""
    settings = _settings(args, env)
    admin = _server_admin(args, settings)
    if admin is not None:
        with admin:
            admin.post("/admin/replay").raise_for_status()
            while (state := admin.get("/admin/replay").json())["state"] == "running":
                _progress(state["position"], state["head"])
                time.sleep(0.5)
        _progress(state["position"], state["head"])
        print(file=sys.stderr)
        if state["state"] != "done":
            print(f"runledger: replay failed: {state['error']}", file=sys.stderr)
            return 1
        print(
            f"replayed into {state['database']}; reads switched (was {state['previous_database']})"
        )
        return 0
    ledger = open_ledger(settings)
    generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
    try:
        previous = generations.active()
        database = replay(
            ledger,
            settings.clickhouse_url,
            settings.clickhouse_database,
            _progress,
            inline_limit=settings.inline_payload_bytes,
        )
        print(file=sys.stderr)
        if settings.clickhouse_url.startswith("chdb://"):
            generations.drop(previous)  # no server runs on this engine: nobody reads it
        print(f"replayed into {database}; reads switched (was {previous})")
    finally:
        generations.close()
        ledger.close()
    return 0


def verify_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Compare the projections with a fresh fold of the log (or, with --log, the log with its
    hash chain); exit 1 on any difference."""
    settings = _settings(args, env)
    if args.log:
        return verify_log(settings, args.checkpoint)
    if args.checkpoint:
        raise ValueError("--checkpoint goes with --log")
    admin = _server_admin(args, settings)
    if admin is not None:
        with admin:
            response = admin.post("/admin/verify")
            response.raise_for_status()
            report = response.json()
    else:
        ledger = open_ledger(settings)
        generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
        database = generations.active()
        client = connect(settings.clickhouse_url, database)
        try:
            # A folder no server has opened yet has no tables: give it the schema a server's
            # start would, so its (empty) projections are compared, not missing.
            with holding(migration_lock(settings, database), f"migrations of {database}"):
                apply_migrations(client)
            result = verify(ledger, client, _progress)
            print(file=sys.stderr)
            report = {
                "executions_count": result.executions_count,
                "events_count": result.events_count,
                "differences": result.differences,
            }
        finally:
            client.close()
            generations.close()
            ledger.close()
    for difference in report["differences"]:
        print(difference)
    print(
        f"{report['executions_count']} executions, {report['events_count']} events checked; "
        f"{len(report['differences'])} differences"
    )
    return 1 if report["differences"] else 0


def _our_audit_key_id(settings: Settings) -> str | None:
    """The id of the key this server signs checkpoints with, when it has one here."""
    if not settings.audit_signing_key and not settings.audit_key_path.exists():
        return None
    return key_id(audit_signing_key(settings))


def verify_log(settings: Settings, checkpoint_file: str | None) -> int:
    """Walk the log's hash chain (domain/log/chain.py), through a signed checkpoint's link if
    one is given; exit 1 at the first break."""
    checkpoint = None
    if checkpoint_file is not None:
        text = (
            sys.stdin.buffer.read()
            if checkpoint_file == "-"
            else Path(checkpoint_file).read_bytes()
        )
        try:
            checkpoint = Checkpoint.from_json(orjson.loads(text))
        except orjson.JSONDecodeError:
            raise BadCheckpoint(f"{checkpoint_file} is not a checkpoint's JSON") from None
        ours = _our_audit_key_id(settings)
        if ours is not None and ours != checkpoint.key_id:
            raise BadCheckpoint(
                f"the checkpoint is signed by key {checkpoint.key_id}, this server's is {ours}"
            )
        whose = "this server's key" if ours else "compare it with the key you trust"
        print(
            f"checkpoint of position {checkpoint.position} signed {checkpoint.signed_at} "
            f"by key {checkpoint.key_id} ({whose}): signature holds"
        )
    # Opened as it is: a check must not chain what it finds (a record somebody added).
    ledger = Ledger(settings.log_env, tail_records=0, upgrade_chain=False)
    try:
        checked = ledger.check_chain(
            None if checkpoint is None else (checkpoint.position, checkpoint.link)
        )
    finally:
        ledger.close()
    if checked.first_break is not None:
        print(f"the log was changed after it was written: {checked.first_break}")
        print(f"{checked.records_count} records checked before it")
        return 1
    print(
        f"{checked.records_count} records checked; the chain holds. Head: position "
        f"{checked.head_position}, link {checked.head_link.hex()}"
    )
    return 0


def deploy_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Register a release of a deployment (its entrypoint must import from here)."""
    settings = _settings(args, env)
    entrypoint = entrypoints.load(args.entrypoint)  # refuse what would never run
    ledger = open_ledger(settings)
    try:
        deployment, release, created = Deployments(ledger).register(
            workspace_id_for(args.workspace),
            args.name,
            args.entrypoint,
            tags=args.tag or [],
            timeout_seconds=args.timeout,
            description=args.description,
        )
    finally:
        ledger.close()
    inputs = ", ".join(f"{s.name}: {s.type.value}" for s in entrypoint.inputs) or "none"
    verb = "released" if created else "unchanged, newest release"
    print(
        f"{deployment.name} ({deployment.id}) {verb} {release.id}: {args.entrypoint} "
        f"[{entrypoint.kind.value}; inputs {inputs}] tags {', '.join(release.tags)}"
    )
    return 0


def project_command(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Follow the log into the projections without serving HTTP, until SIGTERM or SIGINT."""
    settings = replace(_settings(args, env), projector="thread")
    configure_logging(settings.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ledger = open_ledger(settings)
    live = LiveProjections(settings, ledger, writer_lock(settings))
    live.watch()
    log.info("projecting", extra={"generation": live.database, "writer": live.leading})
    try:
        stop.wait()
    finally:
        live.close()
        ledger.close()
        log.info("stopped")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    root = argparse.ArgumentParser(prog="runledger", description=__doc__)
    root.add_argument("--version", action="version", version=f"runledger {installed_version()}")
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

    replay_parser = commands.add_parser(
        "replay",
        help="rebuild every projection from the log aside, then switch reads to it",
        parents=[data],
    )
    replay_parser.set_defaults(handler=replay_command)
    verify_parser = commands.add_parser(
        "verify", help="compare the projections with a fresh fold of the log", parents=[data]
    )
    for admin_parser in (replay_parser, verify_parser):
        admin_parser.add_argument(
            "--server",
            help="URL of the running server to ask (default: the one the data folder's "
            "server.json names; without one, work on the data folder directly)",
        )
    verify_parser.add_argument(
        "--log",
        action="store_true",
        help="check the log itself against its hash chain: name the first record altered, "
        "removed, added or reordered",
    )
    verify_parser.add_argument(
        "--checkpoint",
        help="with --log: a signed checkpoint (GET /v1/audit/checkpoint's JSON; - for stdin) "
        "the chain must still pass through",
    )
    verify_parser.set_defaults(handler=verify_command)
    project_parser = commands.add_parser(
        "project", help="follow the log into the projections without serving HTTP", parents=[data]
    )
    project_parser.set_defaults(handler=project_command)
    deploy_parser = commands.add_parser(
        "deploy", help="register a release of a workflow deployment", parents=[data]
    )
    deploy_parser.add_argument("name", help="the deployment's name")
    deploy_parser.add_argument(
        "--entrypoint", required=True, help="package.module:attribute of a workflow or function"
    )
    deploy_parser.add_argument(
        "--tag", action="append", help="a release tag (repeatable); LATEST is always set"
    )
    deploy_parser.add_argument("--timeout", type=float, help="seconds a run may take")
    deploy_parser.add_argument("--workspace", default=FIRST_WORKSPACE, help="default: default")
    deploy_parser.add_argument("--description", help="shown in the deployment listing")
    deploy_parser.set_defaults(handler=deploy_command)
    transfer_commands.add_parsers(commands, data, _settings)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `runledger` console script."""
    args = parser().parse_args(argv)
    # Entrypoints are the user's modules: import them from where the command runs, as
    # uvicorn does for apps (a console script's sys.path does not hold the working folder).
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        code: int = args.handler(args, os.environ)
    except (ValueError, OSError, DeploymentNotFound) as error:
        # Bad settings or arguments: one line, not a traceback.
        print(f"runledger: {error}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
