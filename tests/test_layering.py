"""Imports flow one way (DESIGN "Layout"), module by module: each module imports only modules of the layers below
its own, or of its own package in its own layer. Read from the source with `ast`, so a new upward import fails
here, in review, rather than as an import cycle later.

Inside `processors/` the arrows are checked too: the contract's leaf types sit below the generic GraphQL
machinery (`resolvers/`), which sits below the processor contract (`processors.base`) and the processors
themselves; a processor package imports another processor's package only when it declares it (``requires`` or
``uses``); the registry sits above every processor. Inside `api/`, middleware never imports a route module.
"""

from __future__ import annotations

import ast
from pathlib import Path

from processors.registry import default_registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
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
    "migrations",
    "obsrvr_flow",
)
PROCESSOR_PACKAGES = sorted(
    p.name for p in (ROOT / "processors").iterdir() if p.is_dir() and (p / "__init__.py").exists()
)
API_BASE = (
    "api.errors",
    "api.state",
    "api.paths",
    "api.public_pages",
    "api.request_ids",
    "api.admin_credentials",
    "api.app_metrics",
    "api.response_cache",
    "api.graphql_ws.registry",  # the app state's count of open WebSocket connections (imports storage only)
    "api.graphql_ws.ticker",  # the registry's one keep-alive timer for every connection (imports the stdlib only)
)

# Bottom first. A module belongs to the first layer with a prefix matching it (a prefix matches itself and what
# lies below it); modules of one layer may import each other only within one top-level package.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("ledgers",),
    ("storage",),
    (
        "processors.listing",
        "processors.config_types",
        "processors.rest_spec",
        "processors.delivery",
        "processors.scvalues",  # Soroban values shared by the extractors (imports ledgers only)
    ),
    ("resolvers",),
    ("processors.base",),
    tuple(f"processors.{name}" for name in PROCESSOR_PACKAGES),
    ("processors.registry", "processors"),
    ("schema",),
    ("services",),
    ("ingest",),
    API_BASE,
    ("api.middleware",),
    ("api", "workers", "migrations"),
    ("obsrvr_flow",),
]


def _matches(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(_matches(module, prefix) for prefix in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path) -> set[str]:
    """The project modules `path` imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            for alias in node.names:
                candidate = ROOT.joinpath(*node.module.split("."), alias.name)
                if candidate.with_suffix(".py").exists() or (candidate / "__init__.py").exists():
                    found.add(f"{node.module}.{alias.name}")
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _processor_of(module: str) -> str | None:
    parts = module.split(".")
    return (
        parts[1] if len(parts) > 1 and parts[0] == "processors" and parts[1] in PROCESSOR_PACKAGES else None
    )


def test_imports_flow_one_way() -> None:
    wrong = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = module_name(path)
            own = layer_of(module)
            for target in sorted(internal_imports(path)):
                theirs = layer_of(target)
                same_package = target.split(".")[0] == module.split(".")[0]
                if theirs > own or (theirs == own and not same_package):
                    wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_a_processor_imports_only_the_processors_it_declares() -> None:
    registry = default_registry()
    names = {p.type_name: p.name for p in registry}
    wrong = []
    for processor in registry:
        declared = {names[type_name] for type_name in (*processor.requires, *processor.uses)}
        for path in sorted((ROOT / "processors" / processor.name).rglob("*.py")):
            for target in internal_imports(path):
                other = _processor_of(target)
                if other is not None and other != processor.name and other not in declared:
                    wrong.append(f"{module_name(path)} imports {target} without requires/uses naming it")
    assert wrong == []


def test_every_processor_package_is_registered() -> None:
    """A processor is its folder plus one line in the registry: a folder the registry misses is never served."""
    assert sorted(p.name for p in default_registry()) == PROCESSOR_PACKAGES


def test_layers_catch_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a storage module importing a processor is refused."""
    assert layer_of("processors.token_transfers.table") > layer_of("storage.query")
    assert layer_of("processors.registry") > layer_of("processors.dex_trades.graphql")
    assert layer_of("api.middleware.auth") < layer_of("api.graphql")
    assert layer_of("resolvers.connection") < layer_of("processors.base") < layer_of("processors.dex_trades")
