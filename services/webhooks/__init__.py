"""Webhooks: the event catalogue, the outbox recorded in the ingest transaction, history preview and backfill,
delivery, signing and the SSRF guard (docs/decisions.md "Webhooks")."""
