"""Our top-level packages are the ones imported, not same-named distributions (`schema`, `api`, ...)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [
    "core",
    "ledgers",
    "processors",
    "storage",
    "resolvers",
    "schema",
    "api",
    "workers",
    "obsrvr_flow",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_to_this_repository(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve() == ROOT / name / "__init__.py"


def test_packaging_lists_every_package() -> None:
    """Every package directory ships (a subpackage missing from pyproject.toml breaks the image, not the
    editable install the tests run on)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in [*PACKAGES, "migrations"]
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set()
    assert set(PACKAGES) <= listed


def test_the_test_tree_mirrors_the_packages() -> None:
    """Every directory of tests/ is named after the package it tests (cross-cutting tests sit at the top)."""
    tests = Path(__file__).resolve().parent
    packages = {p.name for p in tests.parent.iterdir() if (p / "__init__.py").exists() and p.name != "tests"}
    directories = {p.name for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert directories <= packages, directories - packages
