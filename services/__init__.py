"""Application services below the HTTP layer, shared by the admin API and the command line: tenant onboarding,
API key scopes, backfill scheduling and ingestion status."""
