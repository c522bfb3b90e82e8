"""Tests of the job functions and the arq worker, on real Redis and PostgreSQL."""
