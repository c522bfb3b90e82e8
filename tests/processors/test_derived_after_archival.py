"""Derived state stays whole when the history it derives from moves to the cold tier.

Two tenants with every processor ingest the same 20 mainnet ledgers. One of them has its history archived (real
`archive_table`, real Parquet) after the first ten ledgers, with a cut-off inside them; then it ingests the
other ten, and both re-ingest three archived ledgers. The other is the session's `full-tenant`, in a copy of its
ingested ledgers (`tests.mainnet_data`): the same 20 ledgers, in the same batches of five, never archived.
Custom-token balances (summed from transfers) and DEX candles (folded from trades) must be identical for the
two: the sums add the archived baseline that `on_archive` folded, and candles whose trades left the hot store are
not rebuilt from what is left of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from processors.registry import default_registry
from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.store import ColdStore
from storage.db import create_engine
from storage.query import Row
from storage.tenants import TenantStore
from tests import corpus
from tests.mainnet_data import FULL, MainnetData, tenant_document

FIRST = 63092982
WHOLE, ARCHIVED = FULL, "archived"
CUT = FIRST + 6  # ledgers before it are archived


async def _rows(engine: Any, table_name: str, tenant_id: str) -> list[Row]:
    table = next(t for p in default_registry().catalogue().values() for t in p.tables if t.name == table_name)
    columns = [c for c in table.columns if c.name != "tenant_id"]
    key = [c for c in table.primary_key.columns if c.name != "tenant_id"]
    async with engine.connect() as conn:
        result = await conn.execute(select(*columns).where(table.c.tenant_id == tenant_id).order_by(*key))
        return [dict(row) for row in result.mappings()]


async def test_sums_and_candles_are_the_same_with_part_of_their_history_archived(
    mainnet_db: MainnetData, shared_ledgers: Path, tmp_path: Path
) -> None:
    catalogue = default_registry().catalogue()
    types = [p.type_name for p in catalogue.values()]
    # WHOLE's configuration is the one the copy's tenant was ingested with (`tests.mainnet_data`).
    whole_config, archived_config = (
        parse_tenant_config(tenant_document(t, types), catalogue) for t in (WHOLE, ARCHIVED)
    )
    engine = create_engine(mainnet_db.url)
    store = ColdStore.open(str(tmp_path / "cold"))
    try:
        await TenantStore(engine).create(ARCHIVED, ARCHIVED, "pubnet", archived_config.to_document())
        plans = plan_tenants([archived_config], catalogue, Network.pubnet)
        results = corpus.tenant_results(shared_ledgers, corpus.MAINNET_20, plans)
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        for start in range(0, 10, 5):
            await ingest.write_batch(results[start : start + 5])

        # Archive the second tenant's history before CUT, as the archival run does: every enabled processor's
        # `on_archive` hook folds the rows leaving the hot store.
        enabled = {p.name: (p, p.config_model()) for p in catalogue.values()}
        hooks = [(p, config) for p, config in enabled.values() if p.on_archive is not None]
        assert hooks, "no processor keeps derived state over archived history any more"
        archived = 0
        for processor, _config in enabled.values():
            for table in processor.archive:

                async def on_archived(conn: Any, rows: list[Row], name: str = table.name) -> None:
                    for hook_owner, config in hooks:
                        assert hook_owner.on_archive is not None
                        await hook_owner.on_archive(conn, ARCHIVED, {name: rows}, config)

                moved = await archive_table(
                    engine,
                    store,
                    tenant_id=ARCHIVED,
                    processor=processor.name,
                    table=table,
                    cut=ArchiveCut(before_ledger=CUT),
                    on_archived=on_archived,
                )
                archived += moved.rows
        assert archived > 0

        # The rest of the range, then three archived ledgers again, for both (a backfill over archived history).
        for start in range(10, 20, 5):
            await ingest.write_batch(results[start : start + 5])
        both = plan_tenants([whole_config, archived_config], catalogue, Network.pubnet)
        again = corpus.tenant_results(shared_ledgers, corpus.MAINNET_20[2:5], both)
        await IngestEngine(engine, Network.pubnet, plans=both).write_batch(again)

        # Custom-token pairs moved on both sides of the cut: the case the baseline exists for.
        transfers = await _rows(engine, "token_transfers", WHOLE)
        custom = [r for r in transfers if r["asset_type"] == "contract" and r["in_successful_tx"]]
        before = {(h, r["asset"]) for r in custom if r["ledger_sequence"] < CUT for h in (r["from"], r["to"])}
        after = {(h, r["asset"]) for r in custom if r["ledger_sequence"] >= CUT for h in (r["from"], r["to"])}
        assert before & after, "the corpus no longer has a custom-token holder moved on both sides of the cut"

        for table_name in ("token_balances", "dex_volume"):
            whole, cut = await _rows(engine, table_name, WHOLE), await _rows(engine, table_name, ARCHIVED)
            assert whole, f"no {table_name} rows to compare"
            assert cut == whole, f"{table_name} differs once part of its history is archived"
    finally:
        await store.close()
        await engine.dispose()
