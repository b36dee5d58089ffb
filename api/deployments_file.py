"""The deployments file (`RUNLEDGER_DEPLOYMENTS_FILE`, or `deployments.toml` in the data folder),
read at every start: each entry is registered, and an unchanged entry adds no release.

```toml
[[deployment]]
name = "summarize"                      # required
entrypoint = "myflows.summary:Summarize" # required: package.module:attribute
tags = ["production"]                   # optional; LATEST always names the newest release
timeout_seconds = 60                    # optional
workspace = "default"                   # optional, default "default"
description = "Summaries for the app"   # optional
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from domain.deployments import Deployments
from domain.keys import workspace_id_for
from runtime import entrypoints

DEFAULT_WORKSPACE = "default"


def _entry(index: int, item: Any) -> dict[str, Any]:
    where = f"deployment[{index}]"
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be a table")
    for key in ("name", "entrypoint"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise ValueError(f"{where}.{key} is required and must be a non-empty string")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"{where}.tags must be a list of strings")
    timeout = item.get("timeout_seconds")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise ValueError(f"{where}.timeout_seconds must be a positive number")
    return item


def register_file(path: Path, deployments: Deployments) -> list[tuple[str, bool]]:
    """Register every entry of the file; (name, made a new release) for each."""
    with path.open("rb") as file:
        document = tomllib.load(file)
    items = document.get("deployment", [])
    if not isinstance(items, list):
        raise ValueError(f"{path}: [[deployment]] entries expected")
    entries = [_entry(i, item) for i, item in enumerate(items)]
    # Every entrypoint must load before anything is registered: a typo fails the start whole.
    for entry in entries:
        entrypoints.load(entry["entrypoint"])
    results = []
    for entry in entries:
        timeout = entry.get("timeout_seconds")
        _, _, created = deployments.register(
            workspace_id_for(entry.get("workspace", DEFAULT_WORKSPACE)),
            entry["name"],
            entry["entrypoint"],
            tags=entry.get("tags", []),
            timeout_seconds=float(timeout) if timeout is not None else None,
            description=entry.get("description"),
        )
        results.append((entry["name"], created))
    return results
