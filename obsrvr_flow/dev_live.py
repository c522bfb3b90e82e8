"""`obsrvr-flow dev`'s live demo: a simulated network keeps adding sample ledgers, and the server ingests them.

The simulated network (`ledgers.samples.network`) closes one ledger every `--ledger-seconds` in a thread of the
dev process, writing it into the sample datastore (`.obsrvr-flow/sample-ledgers`). The dev server follows that
folder with the workers' own live tail, run by the embedded job runner (`obsrvr_flow.wiring.build_app(...,
live_tails=True)`), so the new rows are published after commit on the server's in-memory pub/sub (GraphQL
subscriptions) and their webhook messages are recorded and delivered, exactly as a worker would.

Restarting `dev` continues the chain from the folder's newest ledger, and the live tail from its checkpoint;
the first run (or a chain started over, e.g. after the samples changed) asks the tail to start right after the
scripted samples, which `dev` ingests itself.
"""

from __future__ import annotations

import logging
import threading

from graphql import GraphQLObjectType, get_named_type, is_leaf_type
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network
from core.tenant_config import TenantConfig
from ledgers.samples.network import SimulatedNetwork
from processors.registry import Registry
from storage.checkpoints import LIVE_PREFIX, Checkpoints, LiveStarts

log = logging.getLogger("obsrvr_flow.dev")

EXAMPLE_FIELDS = 5  # scalar fields the printed subscription asks for, besides `id` and `ledgerSequence`
# Left out of the example for brevity: the order key's parts, hashes, ids and the raw/XDR twins of fields.
_TERSE_SUFFIXES = ("Index", "Type", "Raw", "Xdr", "Issuer", "Code", "Id", "Hash", "Tx", "At")


async def align_live_tail(engine: AsyncEngine, network: SimulatedNetwork) -> None:
    """Make the pubnet live tail go on from the simulated chain: from its checkpoint when that is within the
    chain, else from the first ledger after the scripted samples (which `dev` ingests before serving)."""
    checkpoint = await Checkpoints(engine).get(LIVE_PREFIX + Network.pubnet.value)
    if checkpoint is None or checkpoint > network.last_ledger:
        await LiveStarts(engine).request(Network.pubnet.value, network.info.last_ledger + 1)


class NetworkThread:
    """Runs `network.run` in a daemon thread until `stop()`; an error is logged and ends the thread (the
    server goes on serving what was ingested)."""

    def __init__(self, network: SimulatedNetwork, every_seconds: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(network, every_seconds), name="simulated-network", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self, network: SimulatedNetwork, every_seconds: float) -> None:
        try:
            network.run(every_seconds, self._stop.wait)
        except Exception:
            log.exception("the simulated network stopped; no new sample ledgers will appear")


def subscription_example(processors: Registry, config: TenantConfig) -> str | None:
    """A subscription document on the tenant's first processor that declares one: its field with `id` and a few
    scalar fields of the row type (taken from the tenant's query schema, where the row type is the same)."""
    from schema.build import schema_for

    enabled = processors.enabled_names(config)
    schema = schema_for(processors, enabled).graphql_schema
    for processor in processors:
        if processor.name not in enabled:
            continue
        for subscription in processor.subscriptions:
            node = schema.get_type(subscription.node)
            if not isinstance(node, GraphQLObjectType):
                continue
            scalars = [
                name for name, field in node.fields.items() if is_leaf_type(get_named_type(field.type))
            ]
            picked = [name for name in ("id", "ledgerSequence") if name in scalars]
            picked += [n for n in scalars if n not in picked and not n.endswith(_TERSE_SUFFIXES)][
                :EXAMPLE_FIELDS
            ]
            return f"subscription {{ {subscription.field} {{ {' '.join(picked)} }} }}"
    return None
