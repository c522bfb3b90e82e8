"""GraphQL for DEX volume: ``dexVolume`` (candles per pair and interval, a connection ordered by pair,
interval and bucket start; ``from``/``to`` apply to the bucket start)."""

from __future__ import annotations

from processors.dex_volume.query import listings
from processors.dex_volume.table import dex_volume
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
    )
    listing_field(parts, NAME, "dexVolume", listings[0], "DexVolume")


graphql = GraphQLParts(contribute=contribute)
