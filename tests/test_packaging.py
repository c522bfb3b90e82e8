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


def test_packaging_lists_every_processor_package() -> None:
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    processors = {
        f"processors.{p.name}" for p in (ROOT / "processors").iterdir() if (p / "__init__.py").exists()
    }
    assert processors <= listed
    assert set(PACKAGES) <= listed
