"""Contract tests: one suite per small interface, run against the in-memory and the Redis implementation."""
