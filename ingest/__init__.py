"""The ingestion engine: ledgers in, every tenant's rows written with their checkpoint, side effects after commit.

Called alike by the workers' jobs and by the command line (`obsrvr-flow ingest`, `dev`)."""
