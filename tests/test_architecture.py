"""Dependencies point inward (DESIGN.md §1): a wrong import arrow fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "projections", "runtime", "api", "runledger")
ALLOWED = {
    "domain": {"domain"},
    "projections": {"domain", "projections"},
    "runtime": {"domain", "runtime"},
    "api": {"domain", "projections", "runtime", "api"},
    # `python -m runledger`: the distribution's name, over the command in api/.
    "runledger": {"api"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_inward(package: str) -> None:
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) - ALLOWED[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {file: names for file, names in wrong.items() if names} == {}


def test_the_walk_sees_the_imports_it_polices() -> None:
    assert "domain" in _imported_packages(ROOT / "api" / "app.py")
