"""The tenant configuration document (DESIGN.md "Tenant configuration"), validated.

A tenant's YAML names its network, the processors it enables (each with its own ``config:`` block), storage
retention and API limits. Core never imports a processor, so the processor catalogue is passed in
(`processors.registry.Registry.catalogue()` in the service): each entry's ``config`` is validated with that
processor's `config_model`, ``requires`` between processors is checked here, and the webhook events a tenant
names must be ones its enabled processors emit (each processor declares its events).

Entry points: `parse_tenant_config` for one document (a mapping), `parse_tenant_documents` for YAML text that
may hold several tenants. Both raise `ConfigError` listing every problem found, one ``path: message``
line each.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from croniter import CroniterError, croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import ConfigError
from core.ids import MAX_LEDGER
from core.settings import Network
from core.validation import ROOT, error_lines, format_path, load_yaml_documents, text_problems


class EventSpec(Protocol):
    """A webhook event type a processor emits (`processors.delivery.WebhookEvent` fits)."""

    @property
    def name(self) -> str: ...


class ProcessorSpec(Protocol):
    """What tenant config validation needs to know about a processor (`processors.base.Processor` fits)."""

    @property
    def type_name(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def requires(self) -> tuple[str, ...]: ...
    @property
    def config_model(self) -> type[BaseModel]: ...
    @property
    def webhook_events(self) -> Sequence[EventSpec]: ...


# Validation context key under which the catalogue reaches the ProcessorEntry validators.
_CATALOGUE = "catalogue"
_MODEL = ConfigDict(extra="forbid", frozen=True)


def _tenant_id(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{2,63}", value):
        raise PydanticCustomError(
            "tenant_id",
            "must be 3-64 characters (lowercase letters, digits, '-', '_'), starting with a letter or digit",
        )
    return value


# Where `_cron` looks for a schedule's next run: a leap year's start, so February 29th is found at once.
_CRON_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)


def _cron(value: str) -> str:
    # Five fields only: croniter also accepts a sixth (seconds) field, which schedulers elsewhere may not.
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise PydanticCustomError(
            "cron", "not a valid cron expression (5 fields: minute hour day-of-month month day-of-week)"
        )
    # A valid expression may name a day no month has (February 31st): it never runs, and croniter fails to find
    # its previous run, which the archive scheduler asks every minute of every tenant.
    try:
        croniter(value, _CRON_REFERENCE).get_next(datetime)
    except CroniterError:
        raise PydanticCustomError(
            "cron", "this cron expression never runs (no such day in that month)"
        ) from None
    return value


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))  # canonical: host bits cleared
    except ValueError:
        raise PydanticCustomError("cidr", "not a valid CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32)") from None


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise PydanticCustomError("https_url", "must be an https URL")
    return value


# Upper bounds of the numeric settings: far above what a customer needs, well inside what Python, the
# database, the `limits` library and Redis handle (a rate limit past 2^63 broke Redis's script; see
# docs/decisions.md "Tenant settings: upper bounds").
MAX_RATE_LIMIT_PER_MINUTE = 1_000_000  # ~16,700 requests per second
MAX_CONCURRENT_REQUESTS = 10_000  # per API replica
MAX_CACHE_TTL_SECONDS = 86_400  # a day
MAX_WEBSOCKET_CONNECTIONS = 100_000
MAX_SUBSCRIPTIONS_PER_CONNECTION = 1_000
MAX_HOT_RETENTION_DAYS = 36_500  # a hundred years
MAX_COLD_RETENTION_YEARS = 100
AMOUNT_DIGITS = 39  # integer digits of an amount: NUMERIC(39,0) holds every i128
AMOUNT_DECIMALS = 38  # fraction digits: more than any token's decimals


def _decimal_amount(value: object) -> str:
    text: str | None = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value) if value < 10**AMOUNT_DIGITS else None
    elif isinstance(value, str) and re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        whole, _, fraction = value.partition(".")
        if len(whole.lstrip("0")) <= AMOUNT_DIGITS and len(fraction) <= AMOUNT_DECIMALS:
            text = value
    if text is None:
        # Floats are refused on purpose: amounts are compared exactly.
        raise PydanticCustomError(
            "decimal_amount",
            'not a decimal amount (a string such as "10000" or "2500.5", at most '
            f"{AMOUNT_DIGITS} digits before the point and {AMOUNT_DECIMALS} after)",
        )
    return text


# An asset as tenants name one: ``native``, ``CODE:ISSUER`` or a contract id (``C…``). Core imports no strkey code,
# so this is the strkeys' shape (base32, 56 characters) without their checksum; `ledgers.strkeys.parse_asset`
# writes stored assets the same way, so a key of this shape compares with the rows' ``asset`` as is.
_ASSET_KEY = re.compile(r"native|[A-Za-z0-9]{1,12}:G[A-Z2-7]{55}|C[A-Z2-7]{55}")
MAX_THRESHOLD_ASSETS = 1000


def _large_payment_threshold(value: object) -> str | dict[str, str]:
    """One decimal for every asset, or a map asset -> decimal (assets not in it have no large payments)."""
    if not isinstance(value, Mapping):
        return _decimal_amount(value)
    if len(value) > MAX_THRESHOLD_ASSETS:
        raise PydanticCustomError("threshold_map", f"at most {MAX_THRESHOLD_ASSETS} assets")
    thresholds: dict[str, str] = {}
    for asset, amount in value.items():
        if not isinstance(asset, str) or not _ASSET_KEY.fullmatch(asset):
            raise PydanticCustomError(
                "threshold_asset",
                "{asset}: not an asset (native, CODE:ISSUER or a contract id)",
                {"asset": repr(asset)},
            )
        try:
            thresholds[asset] = _decimal_amount(amount)
        except PydanticCustomError as exc:
            raise PydanticCustomError(
                "threshold_amount", "{asset}: {problem}", {"asset": repr(asset), "problem": exc.message()}
            ) from None
    return thresholds


TenantId = Annotated[str, AfterValidator(_tenant_id)]
CronExpression = Annotated[str, AfterValidator(_cron)]
CIDR = Annotated[str, AfterValidator(_cidr)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
DecimalAmount = Annotated[
    str,
    PlainValidator(_decimal_amount),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}),
]
LargePaymentThreshold = Annotated[
    str | dict[str, str],
    PlainValidator(_large_payment_threshold),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                {
                    "type": "object",
                    "additionalProperties": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
                },
            ]
        }
    ),
]
# YAML and JSON give real integers; strict refuses `true` and `1.5` where a count is expected.
StrictCount = Annotated[int, Field(strict=True)]


class ProcessorEntry(BaseModel):
    """One processor a tenant lists. After parsing, `config` is that processor's validated config model."""

    model_config = _MODEL

    type: str
    enabled: bool = True
    start_ledger: StrictCount | None = Field(default=None, ge=1, le=MAX_LEDGER)
    """Backfill from this ledger when the processor is enabled; None = from the live tail."""
    config: Any = Field(default=None, validate_default=True)  # absent: the model's defaults, typed

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str, info: ValidationInfo) -> str:
        catalogue = _catalogue_of(info)
        if value not in catalogue:
            known = ", ".join(sorted(catalogue))
            raise PydanticCustomError(
                "unknown_processor", f"unknown processor type {value!r} (known: {known})"
            )
        return value

    @field_validator("config")
    @classmethod
    def _processor_config(cls, value: Any, info: ValidationInfo) -> Any:
        type_name = info.data.get("type")
        if type_name is None:  # the type itself is wrong; that error is enough
            return value
        model = _catalogue_of(info)[type_name].config_model
        if isinstance(value, model):
            return value
        # `config:` with nothing after it is YAML null: read it as "no settings".
        return model.model_validate({} if value is None else value)


def _catalogue_of(info: ValidationInfo) -> Mapping[str, ProcessorSpec]:
    catalogue = info.context.get(_CATALOGUE) if isinstance(info.context, dict) else None
    if catalogue is None:
        raise PydanticCustomError(
            "no_catalogue", "validate tenant configs with parse_tenant_config(data, catalogue)"
        )
    return catalogue


class StorageConfig(BaseModel):
    """How long data stays hot (PostgreSQL) and cold (Parquet), and when archiving runs (UTC cron)."""

    model_config = _MODEL

    hot_retention_days: StrictCount = Field(default=90, ge=1, le=MAX_HOT_RETENTION_DAYS)
    cold_retention_years: StrictCount = Field(default=2, ge=0, le=MAX_COLD_RETENTION_YEARS)
    archive_schedule: CronExpression = "0 2 * * *"


class ApiConfig(BaseModel):
    """Per-tenant API limits, IP allowlist (empty = any address), response cache and webhooks."""

    model_config = _MODEL

    rate_limit_per_minute: StrictCount = Field(default=1000, ge=1, le=MAX_RATE_LIMIT_PER_MINUTE)
    concurrent_requests: StrictCount = Field(default=50, ge=1, le=MAX_CONCURRENT_REQUESTS)
    allowed_ips: list[CIDR] = []
    cache_ttl_seconds: StrictCount = Field(default=5, ge=0, le=MAX_CACHE_TTL_SECONDS)
    max_websocket_connections: StrictCount = Field(default=100, ge=1, le=MAX_WEBSOCKET_CONNECTIONS)
    """GraphQL WebSocket connections the tenant may hold open at once (each API replica counts its own)."""
    max_subscriptions_per_connection: StrictCount = Field(
        default=20, ge=1, le=MAX_SUBSCRIPTIONS_PER_CONNECTION
    )
    """Subscriptions one WebSocket connection may run at once."""
    webhook_url: HttpsUrl | None = None
    webhook_events: list[str] = []
    """Event names the tenant's enabled processors emit (checked against the catalogue)."""
    large_payment_threshold: LargePaymentThreshold = "10000"
    """A token transfer whose absolute amount (in asset units, not raw units) is at least this is a
    ``large_payment``: one decimal for every asset, or a map asset (``native``, ``CODE:ISSUER``, contract id) ->
    decimal, in which case assets not in the map have no large payments."""

    def large_payment_threshold_for(self, asset: str) -> str | None:
        """The threshold (decimal text) that applies to `asset`, or None when it has none."""
        threshold = self.large_payment_threshold
        return threshold if isinstance(threshold, str) else threshold.get(asset)


class Customer(BaseModel):
    """The tenant: its id (used in URLs, ``/api/v1/{id}/``), name, network and choices."""

    model_config = _MODEL

    id: TenantId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    network: Network
    processors: list[ProcessorEntry] = Field(min_length=1)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)


class TenantConfig(BaseModel):
    """A validated tenant document. Build it with `parse_tenant_config`, which checks processors too."""

    model_config = _MODEL

    customer: Customer

    def enabled_processors(self) -> list[ProcessorEntry]:
        """The enabled processor entries, in document order."""
        return [entry for entry in self.customer.processors if entry.enabled]

    def processor_config(self, type_name: str) -> BaseModel | None:
        """The validated config of processor `type_name`, or None when it is absent or disabled."""
        for entry in self.enabled_processors():
            if entry.type == type_name:
                return entry.config
        return None

    def to_document(self) -> dict[str, Any]:
        """A JSON-able dict of every setting; `parse_tenant_config` makes an equal model of it."""
        return self.model_dump(mode="json")

    def summary_lines(self) -> list[str]:
        """A short human description, for the CLI and logs."""
        customer = self.customer
        api = customer.api
        lines = [f"tenant {customer.id} ({customer.name}) on {customer.network.value}", "processors:"]
        for entry in customer.processors:
            state = "enabled" if entry.enabled else "disabled"
            start = f", from ledger {entry.start_ledger}" if entry.start_ledger is not None else ""
            lines.append(f"  {entry.type}: {state}{start}")
        storage = customer.storage
        lines.append(
            f"storage: hot {storage.hot_retention_days} days, cold {storage.cold_retention_years} years, "
            f"archive at '{storage.archive_schedule}'"
        )
        lines.append(
            f"api: {api.rate_limit_per_minute} requests/minute, {api.concurrent_requests} concurrent, "
            f"cache {api.cache_ttl_seconds} s"
        )
        lines.append(f"allowed IPs: {', '.join(api.allowed_ips) if api.allowed_ips else 'any'}")
        if api.webhook_url:
            events = ", ".join(api.webhook_events) or "no events"
            lines.append(f"webhook: {api.webhook_url} ({events})")
        else:
            lines.append("webhook: none")
        return lines


def parse_tenant_config(data: object, catalogue: Mapping[str, ProcessorSpec]) -> TenantConfig:
    """Validate one tenant document (a mapping with a ``customer`` key); `ConfigError` lists every problem."""
    config, problems = _validate(data, catalogue, prefix="")
    if config is None:
        raise ConfigError(problems)
    return config


def load_tenant_documents(text: str) -> list[object]:
    """The documents of a YAML (or JSON) text; ``---`` separates tenants. Syntax errors name the line."""
    return load_yaml_documents(text)


def parse_tenant_documents(text: str, catalogue: Mapping[str, ProcessorSpec]) -> list[TenantConfig]:
    """Every tenant of a YAML text, validated; tenant ids must be unique across its documents.

    With one document, paths are as in `parse_tenant_config`; with several they start with ``documents[i].``.
    """
    documents = load_tenant_documents(text)
    if not documents:
        raise ConfigError([f"{ROOT}: no tenant document found (expected a mapping with a 'customer' key)"])
    many = len(documents) > 1
    configs: list[TenantConfig] = []
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    for index, document in enumerate(documents):
        prefix = f"documents[{index}]" if many else ""
        config, found = _validate(document, catalogue, prefix)
        problems.extend(found)
        if config is not None:
            configs.append(config)
        tenant_id = _raw_get(document, "customer", "id")
        if isinstance(tenant_id, str):
            if tenant_id in first_seen:
                problems.append(
                    f"{prefix}.customer.id: duplicate tenant id {tenant_id!r} "
                    f"(also in documents[{first_seen[tenant_id]}])"
                )
            first_seen.setdefault(tenant_id, index)
    if problems:
        raise ConfigError(problems)
    return configs


async def parse_off_the_loop(text: str, catalogue: Mapping[str, ProcessorSpec]) -> list[TenantConfig]:
    """`parse_tenant_documents` in a worker thread, for a server: PyYAML's parser is pure Python (~10 s for a
    1 MB document, the largest body a server takes), and on the event loop it held every other request that
    long (found by an attacker's pass)."""
    return await asyncio.to_thread(parse_tenant_documents, text, catalogue)


def _validate(
    data: object, catalogue: Mapping[str, ProcessorSpec], prefix: str
) -> tuple[TenantConfig | None, list[str]]:
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return None, [f"{prefix or ROOT}: must be a mapping with a 'customer' key, not {kind}"]
    # Text the database cannot store (NUL, lone surrogates) anywhere in the document, keys included: checked on
    # the raw document, so that no field's own validator needs to remember it.
    problems: list[str] = text_problems(data, prefix)
    config: TenantConfig | None = None
    try:
        config = TenantConfig.model_validate(data, context={_CATALOGUE: catalogue})
    except ValidationError as exc:
        problems.extend(error_lines(exc, prefix))
    # Checks across entries read the raw document so that they are reported even when other parts fail.
    processors = _raw_get(data, "customer", "processors")
    problems.extend(_processor_list_problems(processors, catalogue, prefix))
    problems.extend(_webhook_event_problems(data, processors, catalogue, prefix))
    return (None if problems else config), problems


_BOOL = TypeAdapter(bool)


def _processor_list_problems(
    entries: object, catalogue: Mapping[str, ProcessorSpec], prefix: str
) -> list[str]:
    """Duplicate processor types, and enabled processors whose ``requires`` are missing or disabled."""
    if not isinstance(entries, list):
        return []
    problems: list[str] = []
    enabled_by_type: dict[str, bool] = {}
    first_index: dict[str, int] = {}
    listed: list[tuple[int, str, bool]] = []
    for index, entry in enumerate(entries):
        type_name = entry.get("type") if isinstance(entry, Mapping) else None
        if not isinstance(type_name, str) or type_name not in catalogue:
            continue  # reported by the model
        enabled = _as_bool(entry.get("enabled", True))
        path = format_path(("customer", "processors", index, "type"), prefix)
        if type_name in first_index:
            where = format_path(("customer", "processors", first_index[type_name]))
            problems.append(f"{path}: {type_name} is listed twice (first at {where})")
            continue
        first_index[type_name] = index
        enabled_by_type[type_name] = enabled
        listed.append((index, type_name, enabled))
    for index, type_name, enabled in listed:
        if not enabled:
            continue
        path = format_path(("customer", "processors", index, "type"), prefix)
        for required in catalogue[type_name].requires:
            if required not in enabled_by_type:
                problems.append(f"{path}: {type_name} requires {required} (add it and enable it)")
            elif not enabled_by_type[required]:
                problems.append(f"{path}: {type_name} requires {required}, which is disabled (enable it)")
    return problems


def _webhook_event_problems(
    data: object, entries: object, catalogue: Mapping[str, ProcessorSpec], prefix: str
) -> list[str]:
    """Each of ``customer.api.webhook_events`` must be an event some processor declares, of a processor the
    tenant enables."""
    events = _raw_get(data, "customer", "api", "webhook_events")
    if not isinstance(events, list):
        return []  # the model reports a wrong type
    emitters = {event.name: spec for spec in catalogue.values() for event in spec.webhook_events}
    enabled = set()
    if isinstance(entries, list):
        for entry in entries:
            type_name = entry.get("type") if isinstance(entry, Mapping) else None
            if isinstance(type_name, str) and _as_bool(entry.get("enabled", True)):
                enabled.add(type_name)
    problems = []
    for index, name in enumerate(events):
        if not isinstance(name, str):
            continue  # the model reports it
        path = format_path(("customer", "api", "webhook_events", index), prefix)
        spec = emitters.get(name)
        if spec is None:
            known = ", ".join(sorted(emitters)) or "none"
            problems.append(f"{path}: unknown webhook event {name!r} (known: {known})")
        elif spec.type_name not in enabled:
            problems.append(
                f"{path}: {name} is emitted by {spec.type_name}, which this tenant does not enable"
            )
    return problems


def _as_bool(value: object) -> bool:
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        return True  # the model reports the bad value; assume the default meanwhile


def _raw_get(data: object, *keys: str) -> object:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data
