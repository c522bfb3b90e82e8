"""The start-up comparison of declared tables with the database: every difference that would break writes is
named (missing table or column, nullability, kind of type, primary key, an undeclared NOT NULL column), on both
backends; a table created from its own declaration has none."""

from __future__ import annotations

import asyncio

from sqlalchemy import BigInteger, Column, MetaData, PrimaryKeyConstraint, String, Table, text

from storage.amounts import Amount
from storage.db import create_engine
from storage.schema_check import table_problems


def _declared() -> Table:
    return Table(
        "gizmos",
        MetaData(),
        Column("tenant_id", String(64), nullable=False),
        Column("gizmo_id", BigInteger, nullable=False),
        Column("amount_raw", Amount, nullable=False),
        Column("label", String(32), nullable=True),
        PrimaryKeyConstraint("tenant_id", "gizmo_id"),
    )


def test_differences_that_break_writes_are_named(db_url: str) -> None:
    declared = _declared()

    async def run() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
        engine = create_engine(db_url)
        try:
            missing = await table_problems(engine, [declared])
            async with engine.begin() as conn:
                await conn.run_sync(declared.metadata.create_all)
            same = await table_problems(engine, [declared])
            async with engine.begin() as conn:
                await conn.execute(text("DROP TABLE gizmos"))
                # No primary key, an amount stored as a 64-bit integer, a nullable key column, an extra NOT NULL.
                await conn.execute(
                    text(
                        "CREATE TABLE gizmos (tenant_id VARCHAR(64), gizmo_id BIGINT NOT NULL, "
                        "amount_raw BIGINT NOT NULL, extra INTEGER NOT NULL)"
                    )
                )
            different = await table_problems(engine, [declared])
            return missing, same, different
        finally:
            await engine.dispose()

    missing, same, different = asyncio.run(run())
    assert missing == {"gizmos": ["table gizmos does not exist in the database"]}
    assert same == {}
    problems = different["gizmos"]
    assert "column gizmos.label does not exist in the database" in problems
    assert any(
        p.startswith("column gizmos.amount_raw is") and "integer in the database" in p for p in problems
    )
    assert any("primary key is (tenant_id, gizmo_id) here, (none) in the database" in p for p in problems)
    assert "column gizmos.extra (NOT NULL, no default) is not declared here" in problems
