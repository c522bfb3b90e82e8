"""GraphQL for DEX volume: ``dexVolume`` (candles per pair and interval, a connection ordered by pair,
interval and bucket start; ``from``/``to`` apply to the bucket start), ``dexClosedCandles`` (candles as they
closed, in id order: the ``onDexVolume`` subscription's rows), and the DEX trade processor's ``pairStats``
fields answered from the tenant's candles in place of its trades."""

from __future__ import annotations

from processors.dex_trades.graphql import add_pair_stats
from processors.dex_volume.pair_stats import candle_stats
from processors.dex_volume.query import CANDLES, CLOSED_CANDLES, CLOSED_NODE
from processors.dex_volume.table import dex_closed_candles, dex_volume
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type

NAME = "dex_volume"


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "DexVolume",
        lambda: object_type(
            "DexVolume",
            column_fields(dex_volume),
            "A candle: open, high, low, close (exact fractions and decimals), volumes, trade count, VWAP.",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "dexVolume", CANDLES, "DexVolume")
    parts.define(
        CLOSED_NODE,
        lambda: object_type(
            CLOSED_NODE,
            column_fields(dex_closed_candles),
            "A candle as it closed: the candle's fields with their values at its close; `id` (the position of "
            "its close: the ledger whose trade first passed the bucket's end, `ledgerSequence` and `closedAt`) is "
            "the cursor and the `onDexVolume` resume point.",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "dexClosedCandles", CLOSED_CANDLES, CLOSED_NODE)
    add_pair_stats(parts, NAME, candle_stats, fallback=False)


graphql = GraphQLParts(contribute=contribute)
