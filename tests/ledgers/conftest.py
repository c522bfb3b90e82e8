"""Fixtures of the ledger tests: the corpus root, one parallel pass over the whole corpus, cached views."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.view import LedgerView
from tests.conftest import SHARED_LEDGERS
from tests.ledgers.facts import LedgerFacts, collect_facts


@pytest.fixture(scope="session")
def corpus_root() -> Path:
    """The real ledger corpus; every test using it skips where it is absent."""
    if not SHARED_LEDGERS.is_dir():
        pytest.skip(
            f"real ledger corpus not found at {SHARED_LEDGERS} (it lives beside the project, in ../shared)"
        )
    return SHARED_LEDGERS


@pytest.fixture(scope="session")
def corpus_facts(corpus_root: Path) -> list[LedgerFacts]:
    """`LedgerFacts` of every ledger of the corpus (one decode per ledger, spread over the machine's cores)."""
    return collect_facts(corpus_root)


@pytest.fixture(scope="session")
def ledger_summary(corpus_root: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """``ledger_summary.json`` keyed by (file, index within the file)."""
    data = json.loads((corpus_root / "ledger_summary.json").read_text())
    return {(row["file"], row["index"]): row for row in data["ledgers"]}


@pytest.fixture(scope="package")
def open_views(corpus_root: Path) -> Iterator[Callable[[str], tuple[LedgerView, ...]]]:
    """``open_views("wallet-backend/ledger-57500008.xdr.gz")`` → the views of one file, decoded once while the
    ledger tests run. The views are dropped with the package: kept for the session, their millions of objects
    would be traversed by every later full garbage collection of the other packages' tests."""
    views: dict[str, tuple[LedgerView, ...]] = {}

    def load(relative: str) -> tuple[LedgerView, ...]:
        if relative not in views:
            passphrase = network_passphrase_for(relative)
            views[relative] = tuple(
                LedgerView.from_xdr(raw, passphrase) for raw in iter_file(corpus_root / relative)
            )
        return views[relative]

    yield load
    views.clear()
