"""`obsrvr-flow webhooks ...`: a tenant's webhook endpoints (add, list, show, remove, rotate, enable, disable),
their deliveries (log, dead, resend, replay), history (preview, backfill) and `listen`, a local receiver.

`add` and `rotate` print the secret alone on the last line of standard output (shown once), so scripts can
capture it. Endpoint ids are unique across tenants: the commands on one endpoint take its id alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from core.errors import FlowError, invalid_parameter
from core.settings import Settings
from obsrvr_flow import webhook_listen
from obsrvr_flow.common import Stores, err, job_queue, load_settings, out, registry, run

if TYPE_CHECKING:
    # Imported by the commands that use them: with the processors they bring, about a second of CPU that
    # `--help` and every other command would pay.
    from services.webhooks.endpoints import WebhookEndpoints
    from services.webhooks.events import EventCatalogue
    from services.webhooks.operations import WebhookOperations
    from storage.webhooks.endpoints import Endpoint

app = typer.Typer(
    no_args_is_help=True, help="Webhook endpoints: add, list, rotate, deliveries, replay, listen."
)
app.command("listen")(webhook_listen.listen)


@dataclass
class Webhooks:
    stores: Stores
    endpoints: WebhookEndpoints
    operations: WebhookOperations
    catalogue: EventCatalogue


@contextlib.asynccontextmanager
async def _webhooks(settings: Settings) -> AsyncIterator[Webhooks]:
    from services.webhooks.endpoints import WebhookEndpoints
    from services.webhooks.events import EventCatalogue
    from services.webhooks.operations import WebhookOperations

    catalogue = EventCatalogue.from_registry(registry())
    async with Stores(settings) as stores:
        yield Webhooks(
            stores,
            WebhookEndpoints(stores.engine, catalogue, settings),
            WebhookOperations(stores.engine),
            catalogue,
        )


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode()


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _filter(
    raw: str | None, accounts: list[str], assets: list[str], contracts: list[str], min_amount: str | None
) -> dict[str, Any]:
    """The endpoint filter: `--filter` (a JSON object of listing filter fields) with the flags added."""
    chosen: dict[str, Any] = {}
    if raw is not None:
        try:
            chosen = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise invalid_parameter("filter", f"is not valid JSON: {exc}") from None
        if not isinstance(chosen, dict):
            raise invalid_parameter("filter", "must be a JSON object of listing filter fields")
    for key, values in (("accounts", accounts), ("assets", assets), ("contracts", contracts)):
        if values:
            chosen[key] = [*chosen.get(key, []), *values]
    if min_amount is not None:
        chosen["min_amount"] = min_amount
    return chosen


@app.command("add")
def webhooks_add(
    tenant_id: str,
    url: Annotated[
        str, typer.Option(help="Where to POST (https; http only with OBSRVR_WEBHOOK_ALLOW_PRIVATE)")
    ],
    event: Annotated[list[str], typer.Option("--event", help="Event type; repeatable")],
    account: Annotated[
        list[str] | None, typer.Option("--account", help="Sender or receiver; repeatable")
    ] = None,
    asset: Annotated[
        list[str] | None, typer.Option("--asset", help="native, CODE:ISSUER or C...; repeatable")
    ] = None,
    contract: Annotated[
        list[str] | None, typer.Option("--contract", help="Contract C...; repeatable")
    ] = None,
    min_amount: Annotated[str | None, typer.Option("--min-amount", help="Raw units (integer)")] = None,
    filter_json: Annotated[
        str | None, typer.Option("--filter", help="JSON object of any listing filter fields, e.g. topic0")
    ] = None,
    signing: Annotated[str, typer.Option(help="hmac (v1, whsec_) or ed25519 (v1a, whsk_/whpk_)")] = "hmac",
    unordered: Annotated[
        bool, typer.Option("--unordered", help="Do not hold later messages behind a retry")
    ] = False,
    since_ledger: Annotated[
        int | None, typer.Option("--since-ledger", help="Backfill the stored history from this ledger first")
    ] = None,
    description: Annotated[str | None, typer.Option(help="A label")] = None,
) -> None:
    """Add an endpoint; prints its id and, alone on the last line, its secret (shown once)."""
    from services.webhooks.endpoints import NewEndpoint

    settings = load_settings()
    spec = NewEndpoint(
        url=url,
        events=event,
        filter=_filter(filter_json, account or [], asset or [], contract or [], min_amount),
        description=description,
        signing=signing,
        ordered=not unordered,
        since_ledger=since_ledger,
    )

    async def work() -> str:
        from services.tenant_configs import stored_config

        async with _webhooks(settings) as hooks:
            record = await hooks.stores.tenants.get(tenant_id)
            if record is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            created = await hooks.endpoints.add(stored_config(record, registry()), spec)
            endpoint = created.endpoint
            out.print(f"endpoint {endpoint.id} ({endpoint.status}): {endpoint.url}", highlight=False)
            out.print(
                f"  events {', '.join(endpoint.events)}; filter {orjson.dumps(endpoint.filter).decode()}"
            )
            if endpoint.public_key:
                out.print(f"  public key {endpoint.public_key}", highlight=False)
            if since_ledger is not None:
                await _backfill(settings, hooks, endpoint, since_ledger, None)
            out.print("  secret, shown once:")
            return created.secret

    print(run(work))


async def _backfill(
    settings: Settings, hooks: Webhooks, endpoint: Endpoint, first: int, last: int | None
) -> None:
    """Queue the backfill for the workers when there is a queue; else record the history here and now."""
    from services.webhooks.endpoints import queue_backfill

    async with job_queue(settings) as jobs:
        if jobs is not None:
            queued = await queue_backfill(jobs, endpoint.id, first, last)
            out.print(f"  backfill queued: job {queued['job_id']}", highlight=False)
            return
    from services.webhooks.history import backfill
    from storage.cold.reader import ColdReader
    from storage.router import QueryRouter

    cold = ColdReader.from_settings(settings, hooks.stores.engine)
    try:
        done = await backfill(
            QueryRouter(hooks.stores.engine, cold=cold), hooks.catalogue, endpoint.id, first, last
        )
    finally:
        await cold.close()
    out.print(f"  backfill: {done.matched} messages matched, {done.recorded} recorded", highlight=False)


@app.command("list")
def webhooks_list(tenant_id: str) -> None:
    """A tenant's endpoints with their backlog."""
    settings = load_settings()

    async def work() -> list[dict[str, Any]]:
        async with _webhooks(settings) as hooks:
            if await hooks.stores.tenants.get(tenant_id) is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            return await hooks.operations.views(await hooks.endpoints.list(tenant_id))

    table = Table("id", "url", "events", "signing", "status", "pending", "dead", "oldest age (s)", "source")
    for view in run(work):
        backlog = view["backlog"]
        status = view["status"] + (f" ({view['disabled_reason']})" if view["disabled_reason"] else "")
        table.add_row(
            view["id"],
            view["url"],
            ", ".join(view["events"]),
            view["signing"],
            status,
            str(backlog["pending"]),
            str(backlog["dead"]),
            f"{backlog['oldest_undelivered_age_seconds']:.0f}",
            view["source"],
        )
    out.print(table)


def _on_endpoint(endpoint_id: str, action: Any) -> Any:
    """Run `action(hooks, endpoint)` on the endpoint `endpoint_id` (404 when there is none)."""
    settings = load_settings()

    async def work() -> Any:
        async with _webhooks(settings) as hooks:
            return await action(hooks, await hooks.endpoints.by_id(endpoint_id))

    return run(work)


@app.command("show")
def webhooks_show(endpoint_id: str) -> None:
    """One endpoint (no secret) with its backlog, as JSON."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> dict[str, Any]:
        return (await hooks.operations.views([endpoint]))[0]

    print(_json(_on_endpoint(endpoint_id, action)))


@app.command("remove")
def webhooks_remove(endpoint_id: str) -> None:
    """Remove an endpoint with its outbox and delivery log."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> None:
        await hooks.endpoints.remove(endpoint.tenant_id, endpoint.id)

    _on_endpoint(endpoint_id, action)
    out.print(f"endpoint {endpoint_id}: removed", highlight=False)


@app.command("rotate")
def webhooks_rotate(
    endpoint_id: str,
    signing: Annotated[str | None, typer.Option(help="Switch scheme: hmac or ed25519")] = None,
) -> None:
    """A new secret, printed alone on the last line; the old one also signs during the grace period."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> str:
        rotated = await hooks.endpoints.rotate(endpoint.tenant_id, endpoint.id, signing)
        new = rotated.endpoint
        out.print(
            f"endpoint {new.id}: new {new.signing} secret; the previous one signs until "
            f"{_when(new.previous_expires_at)}",
            highlight=False,
        )
        if new.public_key:
            out.print(f"  public key {new.public_key}", highlight=False)
        out.print("  secret, shown once:")
        return rotated.secret

    print(_on_endpoint(endpoint_id, action))


@app.command("enable")
def webhooks_enable(endpoint_id: str) -> None:
    """Enable an endpoint (after a 410, the 5-day failure rule or `disable`): its pending messages are due."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> Endpoint:
        return await hooks.endpoints.enable(endpoint.tenant_id, endpoint.id)

    out.print(f"endpoint {endpoint_id}: {_on_endpoint(endpoint_id, action).status}", highlight=False)


@app.command("disable")
def webhooks_disable(endpoint_id: str) -> None:
    """Stop delivering to an endpoint (messages are still recorded)."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> Endpoint:
        return await hooks.endpoints.disable(endpoint.tenant_id, endpoint.id)

    out.print(f"endpoint {endpoint_id}: {_on_endpoint(endpoint_id, action).status}", highlight=False)


@app.command("log")
def webhooks_log(
    endpoint_id: str,
    limit: Annotated[int, typer.Option(help="Attempts to show, newest first")] = 50,
    message: Annotated[str | None, typer.Option(help="Only this message id")] = None,
) -> None:
    """The delivery log: attempts with status, latency and the start of the answer."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> list[dict[str, Any]]:
        from services.webhooks.operations import parse_limit

        return await hooks.operations.deliveries(endpoint, limit=parse_limit(limit), message_id=message)

    table = Table("started", "message", "attempt", "status", "outcome", "ms", "error", "response")
    for a in _on_endpoint(endpoint_id, action):
        table.add_row(
            _when(a["started_at"]),
            a["message_id"],
            str(a["attempt"]),
            str(a["status_code"] or ""),
            a["outcome"],
            str(a["duration_ms"]),
            a["error"] or "",
            (a["response_snippet"] or "")[:60],
        )
    out.print(table)


@app.command("dead")
def webhooks_dead(
    endpoint_id: str,
    limit: Annotated[int, typer.Option(help="Messages to show")] = 100,
    after: Annotated[str | None, typer.Option(help="Start after this message id")] = None,
) -> None:
    """Dead letters: messages whose retries ran out, in id order."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> list[dict[str, Any]]:
        from services.webhooks.operations import parse_limit

        return await hooks.operations.dead_letters(endpoint, limit=parse_limit(limit), after=after)

    table = Table("message", "event", "ledger", "attempts", "last status", "last error")
    for m in _on_endpoint(endpoint_id, action):
        table.add_row(
            m["id"], m["event_type"], str(m["ledger"]), str(m["attempts"]), str(m["last_status_code"] or ""),
            m["last_error"] or "",
        )  # fmt: skip
    out.print(table)


@app.command("resend")
def webhooks_resend(endpoint_id: str, message_id: str) -> None:
    """Send one message again (same id, same bytes)."""

    async def action(hooks: Webhooks, endpoint: Endpoint) -> dict[str, Any]:
        return await hooks.operations.resend(endpoint, message_id)

    found = _on_endpoint(endpoint_id, action)
    out.print(f"message {found['id']}: {found['status']}, due now", highlight=False)


@app.command("replay")
def webhooks_replay(
    endpoint_id: str,
    since_ledger: Annotated[int | None, typer.Option("--since-ledger", help="From this ledger on")] = None,
    since_time: Annotated[
        str | None, typer.Option("--since-time", help="From this ledger close time (ISO)")
    ] = None,
    only_dead: Annotated[bool, typer.Option("--only-dead", help="Only dead letters")] = False,
) -> None:
    """Send again every delivered and dead message (or only the dead) since a ledger or a time."""

    from services.webhooks.operations import parse_ledger, parse_time

    async def action(hooks: Webhooks, endpoint: Endpoint) -> int:
        return await hooks.operations.replay(
            endpoint,
            since_ledger=None if since_ledger is None else parse_ledger("since_ledger", since_ledger),
            since_time=None if since_time is None else parse_time("since_time", since_time),
            only_dead=only_dead,
        )

    out.print(f"{_on_endpoint(endpoint_id, action)} messages put back to pending", highlight=False)


@app.command("preview")
def webhooks_preview(
    endpoint_id: str,
    from_ledger: Annotated[int, typer.Option("--from", help="First ledger")],
    to_ledger: Annotated[
        int | None, typer.Option("--to", help="Last ledger (default: newest stored)")
    ] = None,
    sample: Annotated[int, typer.Option(help="Payloads to show")] = 5,
) -> None:
    """What the endpoint would have been sent for stored history: the count and the first payloads, as JSON."""
    settings = load_settings()

    async def action(hooks: Webhooks, endpoint: Endpoint) -> dict[str, Any]:
        from services.webhooks.history import preview
        from storage.cold.reader import ColdReader
        from storage.router import QueryRouter

        cold = ColdReader.from_settings(settings, hooks.stores.engine)
        try:
            router = QueryRouter(hooks.stores.engine, cold=cold)
            found = await preview(router, hooks.catalogue, endpoint, from_ledger, to_ledger, sample=sample)
        finally:
            await cold.close()
        return found.as_dict()

    print(_json(_on_endpoint(endpoint_id, action)))


@app.command("backfill")
def webhooks_backfill(
    endpoint_id: str,
    from_ledger: Annotated[int, typer.Option("--from", help="First ledger")],
    to_ledger: Annotated[
        int | None, typer.Option("--to", help="Last ledger (default: newest stored)")
    ] = None,
) -> None:
    """Record the stored history's messages into the endpoint's outbox (queued with Redis, else run here)."""
    settings = load_settings()

    async def action(hooks: Webhooks, endpoint: Endpoint) -> None:
        from services.webhooks.history import check_range

        first, last = check_range(from_ledger, to_ledger)
        await _backfill(settings, hooks, endpoint, first, last)

    _on_endpoint(endpoint_id, action)
    err.print(f"endpoint {endpoint_id}: backfill done or queued", highlight=False)
