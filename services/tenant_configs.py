"""Reading stored tenant configurations.

A stored document was validated when it was applied, but the rules can move under it (a processor removed from
the registry, a webhook event its processors no longer emit): then it is the service's problem, not the caller's.
`stored_config` turns that into a logged 503 for the tenant's requests (never its problem list in a client's
answer), and `stored_configs` leaves such a tenant out of work done for many tenants (the live tail of a network
must not stop for everyone because one tenant's document no longer validates).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.errors import ConfigError, ServiceUnavailable
from core.tenant_config import TenantConfig, parse_tenant_config
from processors.registry import Registry
from storage.tenants import TenantRecord

log = logging.getLogger("obsrvr_flow.tenants")


def stored_config(record: TenantRecord, registry: Registry) -> TenantConfig:
    """The tenant's validated config; `ServiceUnavailable` (logged with the problems) when it no longer
    validates against these processors."""
    try:
        return parse_tenant_config(record.config, registry.catalogue())
    except ConfigError as exc:
        log.error("the stored configuration of tenant %s no longer validates: %s", record.id, exc.message)
        raise ServiceUnavailable(
            "this tenant's stored configuration no longer validates; an operator must apply it again",
            code="tenant_config_invalid",
        ) from exc


def previous_config(record: TenantRecord | None, registry: Registry) -> TenantConfig | None:
    """The config a tenant had before an update, or None (none stored, or one that no longer validates: the
    update is how an operator fixes it, and everything it enables is planned as new)."""
    if record is None:
        return None
    try:
        return stored_config(record, registry)
    except ServiceUnavailable:
        return None


def stored_configs(records: Iterable[TenantRecord], registry: Registry) -> list[TenantConfig]:
    """The validated configs of `records`, leaving out (and logging) those that no longer validate."""
    configs = []
    for record in records:
        try:
            configs.append(stored_config(record, registry))
        except ServiceUnavailable:
            continue
    return configs
