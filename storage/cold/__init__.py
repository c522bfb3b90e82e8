"""The cold tier: Parquet files under `OBSRVR_COLD_URL` (hive layout, one folder per tenant, processor, year
and month), their manifest and archive watermarks in the hot store, and DuckDB reads of them. Only `storage/`
uses it, behind `storage.router.QueryRouter`."""
