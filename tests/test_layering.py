"""Imports flow one way (DESIGN "Layout"): each package imports only the packages below it. Read from the
source with `ast`, so a new upward import fails here, in review, rather than as an import cycle later."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# DESIGN's table, with what sits below a listed package made explicit (ledgers' strkeys under the GraphQL
# scalars and schema; api never imports workers: the composition root hands it the job functions).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "ledgers": {"core"},
    "storage": {"core"},
    "processors": {"core", "ledgers", "storage"},
    "resolvers": {"core", "ledgers", "storage", "processors"},
    "schema": {"core", "ledgers", "storage", "processors", "resolvers"},
    "services": {"core", "ledgers", "storage", "processors"},
    "ingest": {"core", "ledgers", "storage", "processors"},
    "api": {"core", "ledgers", "storage", "processors", "resolvers", "schema", "services"},
    "workers": {"core", "ledgers", "storage", "processors", "ingest"},
    "obsrvr_flow": {
        "core",
        "ledgers",
        "storage",
        "processors",
        "resolvers",
        "schema",
        "services",
        "ingest",
        "api",
        "workers",
    },
}
# The processor contract includes its GraphQL parts (DESIGN "Processor contract"): a processor's graphql.py
# builds them from resolvers' pieces. Nothing else in a processor may.
EXCEPTIONS = {("processors", "resolvers", "graphql.py")}


def _internal_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(ALLOWED)


def test_imports_flow_one_way() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for target in _internal_imports(path) - allowed - {package}:
                if (package, target, path.name) not in EXCEPTIONS:
                    wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert wrong == []
