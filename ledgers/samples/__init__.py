"""Sample ledgers for the embedded demo: valid protocol-26 ledgers built from scratch, as a galexie datastore.

``obsrvr-flow dev`` has no network, yet a new user's first request should return real-looking rows. This
package builds a few consecutive ``LedgerCloseMeta`` v2 ledgers with stellar-sdk's XDR types — signed
envelopes in a generalized transaction set, results, meta v4 with CAP-67 unified events, entry changes that
reconcile with those events, a header hash chain — and writes them where the project's own datastore reader
ingests them like any other lake. What happens in them is listed in `ledgers.samples.scenario`.

    info = ensure_sample_datastore(folder)   # writes only when missing or from another sample version
    info.accounts["alice"], info.assets["USDC"], info.first_ledger, info.last_ledger
"""

from .build import BuiltLedger, SampleBuild, build_sample_ledgers
from .info import LedgerCounts, SampleInfo
from .writer import (
    MARKER_NAME,
    PUBNET_PASSPHRASE,
    SAMPLE_VERSION,
    GrowingDatastore,
    SampleFolderError,
    ensure_sample_datastore,
    object_key,
    write_sample_datastore,
)

__all__ = [
    "MARKER_NAME",
    "PUBNET_PASSPHRASE",
    "SAMPLE_VERSION",
    "BuiltLedger",
    "GrowingDatastore",
    "LedgerCounts",
    "SampleBuild",
    "SampleFolderError",
    "SampleInfo",
    "build_sample_ledgers",
    "ensure_sample_datastore",
    "object_key",
    "write_sample_datastore",
]
