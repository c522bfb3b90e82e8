"""Service settings: one object, built once at the composition root and passed down.

Every knob is an environment variable with the `OBSRVR_` prefix (e.g. `OBSRVR_DATABASE_URL`), so the CLI,
the API and the workers see the same configuration. Nothing here connects to anything.
"""

from __future__ import annotations

import os
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(".obsrvr-flow")
DEV_KEY_PEPPER = "obsrvr-flow-dev-pepper-not-for-production"


class Network(StrEnum):
    pubnet = "pubnet"
    testnet = "testnet"


NETWORK_PASSPHRASES: dict[Network, str] = {
    Network.pubnet: "Public Global Stellar Network ; September 2015",
    Network.testnet: "Test SDF Network ; September 2015",
}


class Settings(BaseSettings):
    """All settings of the service. Defaults give the embedded mode (SQLite, in-process jobs)."""

    model_config = SettingsConfigDict(env_prefix="OBSRVR_", extra="ignore", frozen=True)

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{DATA_DIR}/obsrvr-flow.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; unset = in-process jobs, cache, rate limits and pub/sub"
    )
    cold_url: str = Field(default=f"file://{DATA_DIR}/cold", description="Where Parquet cold data lives")
    cold_endpoint: str | None = Field(
        default=None,
        description="Cold bucket endpoint (S3-compatible server, or a GCS emulator); unset = the cloud's",
    )
    cold_region: str | None = Field(default=None, description="Cold S3 bucket region")
    cold_anonymous: bool = Field(
        default=False, description="Access the cold bucket unsigned (a public bucket)"
    )
    cold_access_key_id: str | None = Field(
        default=None, description="Cold S3 access key id; unset = obstore's AWS_* environment lookup"
    )
    cold_secret_access_key: SecretStr | None = Field(default=None, description="Cold S3 secret access key")
    cold_service_account_path: str | None = Field(
        default=None, description="GCS service account JSON for a gs:// cold bucket; unset = GOOGLE_* lookup"
    )
    cold_request_timeout_seconds: float = Field(
        default=60, gt=0, description="Timeout of one cold bucket request"
    )
    cold_cache_dir: Path = Field(
        default=DATA_DIR / "cold-cache", description="Local cache of cold files fetched from a bucket"
    )
    cold_cache_bytes: int = Field(
        default=2 * 1024**3, ge=0, description="Size bound of the local cache of cold files (least recent go)"
    )
    cold_memory_bytes: int = Field(
        default=256 * 1024**2,
        ge=0,
        description="Memory for cold files held decoded (each at most a quarter of it; 0 = every read by DuckDB)",
    )
    cold_max_concurrent_reads: int = Field(
        default=2, ge=1, description="Cold (DuckDB) queries run at once per process; others wait"
    )
    pubnet_source: str | None = Field(default=None, description="Ledger source URL for pubnet")
    testnet_source: str | None = Field(default=None, description="Ledger source URL for testnet")

    admin_token: SecretStr | None = Field(default=None, description="Static admin bearer token")
    admin_jwt_secret: SecretStr | None = Field(default=None, description="HS256 secret for admin JWTs")
    admin_jwt_public_key: str | None = Field(
        default=None, description="PEM public key (RS256/ES256/EdDSA) for admin JWTs, or a path to one"
    )
    admin_jwt_issuer: str = "obsrvr-flow"
    admin_jwt_audience: str = "obsrvr-flow-admin"

    key_pepper: SecretStr | None = Field(
        default=None, description="Secret mixed into API key hashes; required outside SQLite dev mode"
    )

    public_url: str = Field(default="http://127.0.0.1:8000", description="Base URL shown to customers")
    queue_name: str = "obsrvr-flow:queue"
    redis_prefix: str = "obsrvr-flow:"
    audit_flush_seconds: float = Field(default=1.0, ge=0)
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    max_body_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="Largest request body (and query string) outside GraphQL; 413 beyond",
    )
    graphql_max_body_bytes: int = Field(
        default=262_144,
        gt=0,
        description="Largest GraphQL request body (document and variables) or GET query string; 413 beyond",
    )
    graphql_max_response_bytes: int = Field(
        default=16_777_216,
        gt=0,
        description="Largest GraphQL response served; a larger one is replaced by a response_too_large error",
    )
    response_cache_memory_bytes: int = Field(
        default=67_108_864,
        ge=1,
        description="Bytes the in-memory response cache of the embedded mode holds (keys and bodies); least "
        "recently used entries are evicted beyond it",
    )
    response_cache_max_entry_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="Largest response body the response cache stores (Redis or memory); larger answers are "
        "always computed",
    )
    decode_processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    partitions_months_ahead: int = Field(default=3, ge=1)
    backfill_chunk_ledgers: int = Field(default=1000, ge=1, description="Ledgers per backfill job")
    backfill_max_attempts: int = Field(
        default=8, ge=1, description="Runs of a failing backfill chunk before it waits for an operator"
    )
    live_tail_budget_seconds: float = Field(
        default=600, gt=0, description="How long one live-tail job runs before handing over to the next"
    )
    live_tail_reload_seconds: float = Field(
        default=5, gt=0, description="How often the live tail checks for new or changed tenants"
    )
    live_poll_seconds: float = Field(
        default=0.25, gt=0, le=60, description="How often the live tail asks the source for the next ledger"
    )
    database_pool_timeout_seconds: float = Field(
        default=3,
        gt=0,
        le=60,
        description="How long an API request waits for a free PostgreSQL connection before 503 database_unavailable",
    )
    decoder: Literal["fast", "sdk"] = Field(
        default="fast",
        description="Ledger decoder: fast (a byte walk, stellar-sdk for what it cannot read) or sdk (stellar-sdk only)",
    )
    job_timeout_seconds: int = Field(default=1800, ge=1, description="arq job timeout (a chunk must fit)")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="Log lines as JSON objects (one per line) or as plain text"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for GET /metrics (the admin credential is accepted too)"
    )
    worker_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port an arq worker serves its own /metrics on; unset = off"
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker's metrics port listens on (it has no auth)"
    )
    # Outages: how often the worker's `resume_backfills` cron runs (plans deferred backfills, retries failed
    # chunks, re-enqueues chunks planned while the queue was down).
    backfill_resume_seconds: int = Field(
        default=60, ge=1, le=60, description="Interval of the resume_backfills cron (a divisor of 60)"
    )
    # Webhooks (services.webhooks, workers.webhook_jobs).
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow http:// and private, loopback and link-local webhook addresses (local development and "
        "tests only; `obsrvr-flow dev` turns it on)",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=60,
        description="Whole-attempt deadline of one webhook delivery (connect to answer)",
    )
    webhook_max_response_bytes: int = Field(
        default=65_536,
        ge=1024,
        description="Bytes of a receiver's answer read before the connection is closed",
    )
    webhook_worker_jobs: int = Field(
        default=16, ge=1, le=512, description="Delivery jobs one worker runs at once (one endpoint per job)"
    )
    webhook_max_concurrency: int = Field(
        default=8, ge=1, le=64, description="Largest max_concurrency an unordered endpoint may ask for"
    )
    webhook_job_budget_seconds: float = Field(
        default=30.0, gt=0, description="How long one delivery job sends before handing its slot to others"
    )
    webhook_disable_after_days: float = Field(
        default=5.0, gt=0, description="An endpoint failing without a success for this long is disabled"
    )
    webhook_rotation_grace_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 30,
        description="How long a rotated-out secret still signs, next to the new one",
    )
    webhook_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days messages and their delivery log are kept (for the log and replays)",
    )
    webhook_max_endpoints: int = Field(default=20, ge=1, le=1000, description="Webhook endpoints per tenant")
    webhook_sweep_seconds: int = Field(
        default=5, ge=1, le=60, description="Interval of the sweep that sends what no job was queued for"
    )
    # GraphQL subscriptions (services.subscriptions, api.graphql_ws).
    subscription_send_buffer_messages: int = Field(
        default=1_000,
        ge=10,
        description="Messages a WebSocket connection may have waiting to be sent before it is closed as too slow "
        "(4408, with the id to resume from)",
    )
    subscription_send_buffer_bytes: int = Field(
        default=4_194_304,
        ge=65_536,
        description="Bytes a WebSocket connection may have waiting to be sent before it is closed as too slow",
    )
    subscription_catchup_page_rows: int = Field(
        default=500, ge=10, le=5_000, description="Rows one catch-up read takes from the stores"
    )
    subscription_resync_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="How often live subscriptions check the stores for rows whose pub/sub message never came "
        "(a Redis outage, an ingest process without pub/sub)",
    )
    websocket_init_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Time a WebSocket client has to send connection_init"
    )
    websocket_ping_seconds: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="Interval of the server's keep-alive pings on idle connections and of uvicorn's WebSocket "
        "pings (a peer that answers none within 3 intervals is closed as too slow: 4408 with the id to resume "
        "from); a connection whose writer waits this long on a client that does not read is closed the same way",
    )
    websocket_socket_send_buffer_bytes: int = Field(
        default=262_144,
        ge=0,
        description="SO_SNDBUF of accepted WebSocket sockets under `obsrvr-flow serve` (0: the kernel's auto-tuning, "
        "up to megabytes): what the kernel holds for a client that stops reading before it is closed as too slow",
    )
    websocket_max_message_bytes: int = Field(
        default=65_536, ge=1024, description="Largest client message (subscribe with its query) accepted"
    )
    purge_batch_rows: int = Field(
        default=5_000,
        ge=1,
        description="Rows a tenant purge deletes per transaction (short locks, resumable)",
    )
    cost_report_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a tenant's cost report (`GET .../usage`) is served from the cache store before it "
        "is computed again (0: every call computes it)",
    )
    # The cost report's price table (REFERENCE §6c), in US dollars; GB = 10^9 bytes.
    price_hot_gb_month: Decimal = Field(
        default=Decimal("0.75"), ge=0, description="Hot store $ per GB-month (the middle of 0.50-1.00)"
    )
    price_cold_gb_month: Decimal = Field(
        default=Decimal("0.023"), ge=0, description="Cold store (object storage) $ per GB-month"
    )
    price_cold_queries_per_1000: Decimal = Field(
        default=Decimal("0.004"), ge=0, description="$ per 1,000 cold queries (DuckDB over the object store)"
    )
    price_requests_per_million: Decimal = Field(
        default=Decimal("2.0"),
        ge=0,
        description="$ per million API requests ($20 per 10M, the worked example)",
    )

    archive_delete_batch_rows: int = Field(
        default=5000,
        ge=1,
        le=1_000_000,
        description="Hot rows an archival deletes per transaction once they are in the cold tier (short locks)",
    )
    archive_max_file_rows: int = Field(
        default=1_000_000, ge=1, description="Most rows in one cold Parquet file written by archival"
    )

    @field_validator("backfill_resume_seconds")
    @classmethod
    def _divides_a_minute(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("must divide 60 (the cron runs at fixed seconds of each minute)")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("cold_url")
    @classmethod
    def _known_cold_store(cls, value: str) -> str:
        # Checked at start-up, so a typo fails then rather than when the cold tier first writes: a folder (a
        # plain path or file://) or a bucket (s3://, gs://); any other scheme is refused.
        scheme, sep, rest = value.partition("://")
        if not value.strip() or (sep and (scheme.lower() not in ("file", "s3", "gs") or not rest.strip("/"))):
            raise ValueError("must be a folder (a path or file://...) or a bucket (s3://... or gs://...)")
        return value

    @model_validator(mode="after")
    def _pepper_outside_dev(self) -> Settings:
        if self.key_pepper is None and not self.is_sqlite:
            raise ValueError("OBSRVR_KEY_PEPPER must be set when the database is not SQLite")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def pepper(self) -> str:
        return self.key_pepper.get_secret_value() if self.key_pepper else DEV_KEY_PEPPER

    def ledger_source(self, network: Network | str) -> str | None:
        return {Network.pubnet: self.pubnet_source, Network.testnet: self.testnet_source}[Network(network)]
