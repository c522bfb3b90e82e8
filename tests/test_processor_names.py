"""The core names no processor: no processor name, type name or table name, REST path or GraphQL name of a
processor appears anywhere in the packages outside `processors/` and `migrations/` (string literals, docstrings,
comments, identifiers, import paths).
Those packages reach processors only through the registry and the typed contract (`processors.base`).

`ledgers/` is left out on purpose: it speaks Stellar's own vocabulary, where ``contract_data`` is a ledger entry
type and ``contract_events`` a transaction's events, which are not the processors of the same names. Tests and
benchmarks name the processors they test.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from processors.registry import default_registry
from resolvers.parts import SchemaParts

ROOT = Path(__file__).resolve().parents[1]
CORE = ("core", "storage", "resolvers", "schema", "services", "ingest", "api", "workers", "obsrvr_flow")


def processor_words() -> set[str]:
    """Each processor's name, type name and table names; the paths of its REST routes (and their hyphenated
    segments); the GraphQL query fields and types it defines."""
    words: set[str] = set()
    for processor in default_registry():
        words.update((processor.name, processor.type_name))
        words.update(table.name for table in processor.tables)
        for route in processor.routes:
            words.add(route.path)
            words.update(segment for segment in route.path.split("/") if "-" in segment)
        graphql = processor.graphql_parts()
        if graphql is not None:
            parts = SchemaParts()
            graphql.contribute(parts)
            words.update(parts.owned_names(processor.name))
    return words


def occurrences(source: str, pattern: re.Pattern[str]) -> list[tuple[int, str]]:
    """(line, token) of every string, comment or name token of `source` that names one of the words."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT, tokenize.NAME) or (
            token.type == getattr(tokenize, "FSTRING_MIDDLE", -1)
        ):
            if pattern.search(token.string):
                found.append((token.start[0], token.string))
    return found


def word_pattern(words: set[str]) -> re.Pattern[str]:
    # Whole words: a word's ends are not letters, digits, `_` or `-` (so `token-transfers` is not found inside
    # `my-token-transfers`, nor `DexTrade` inside `DexTradeConnection`).
    alternatives = "|".join(sorted(map(re.escape, words), key=len, reverse=True))
    return re.compile(r"(?<![\w-])(" + alternatives + r")(?![\w-])")


def test_the_core_names_no_processor() -> None:
    pattern = word_pattern(processor_words())
    found = []
    for package in CORE:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, text in occurrences(path.read_text(), pattern):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}")
    assert found == [], "processor names outside processors/:\n" + "\n".join(found)


def test_the_check_sees_each_kind_of_mention() -> None:
    pattern = word_pattern({"token_transfers", "TokenTransferProcessor"})
    source = (
        '"""Reads token_transfers."""\n'
        "from processors.token_transfers import processor\n"
        'TABLE = "token_transfers"  # a comment naming TokenTransferProcessor\n'
        "def token_transfers(): ...\n"
        'label = f"rows of {x} in token_transfers"\n'
    )
    assert [line for line, _ in occurrences(source, pattern)] == [1, 2, 3, 3, 4, 5]
    assert occurrences("token_transfers_current = 1\nmy_token_transfers = 2\n", pattern) == []
