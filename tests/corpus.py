"""The real ledger corpus, decoded once per test session for the processor test packages and the other tests
that need its rows (the API tests' database, tests/mainnet_data.py; the crash test's expectations).

A current mainnet ledger costs ~0.3 s to decode and ~100 MB decoded, and those tests read the same files: the
20 mainnet ledgers 63092982-63093001 above all. `ledgers(root, file)` decodes each file once, with
stellar-sdk's own decoder, and keeps, per ledger, only

- what every registered processor's ``extract`` returns, through a `LedgerView` of that decoded ledger, and
- the facts of every function registered with `facts`: each package computes what its tests check from the
  view, and its independent walks from `Decoded.meta`, the stellar-sdk object itself (no project code between
  the bytes and those walks: they are the oracles the extractors are checked against).

The project's own decoder (`LedgerView.from_xdr`, what production ingests with) is checked against stellar-sdk's
in tests/ledgers, and the ingestion tests that decode again through `process_ledger` compare its rows with
these. The decoded objects are dropped before the next ledger. An error (of the decoding, an extractor or a
facts function) is kept and raised where its result is read, so only the tests that read it fail.
`tenant_results` turns the cached rows into what `ingest.engine.process_ledger` returns, through the same
selection code (`ingest.engine.tenant_rows`).

Under pytest-xdist (tests/parallel.py) the workers of a run share the decoding: the first worker that needs a
file decodes it and leaves the pickled result in the run's folder (under a file lock), the others load that
(~0.01 s where decoding takes ~0.5 s a ledger). Same code, same run: the same result.
"""

from __future__ import annotations

import fcntl
import hashlib
import pickle
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from stellar_sdk import xdr as x

from ingest.engine import LedgerResult, TenantPlan, tenant_rows
from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.base import Processor

Row = dict[str, Any]
T = TypeVar("T")

MAINNET_20 = tuple(f"wallet-backend/ledger-{seq}.xdr.gz" for seq in range(63092982, 63093002))
"""The 20 consecutive protocol-26 mainnet ledgers (LCM v2, meta v4)."""
MAINNET_OTHER = ("wallet-backend/ledger-51000294.xdr.gz", "wallet-backend/ledger-57500008.xdr.gz")
"""Protocol 20 (LCM v1) and protocol 22 mainnet ledgers."""
RECONSTRUCTED_DIR = "stellar-etl/reconstructed"


def reconstructed_files(root: Path) -> tuple[str, ...]:
    """The reconstructed 2020 mainnet ledgers (one per file), in name order."""
    return tuple(
        p.relative_to(root).as_posix() for p in sorted((root / RECONSTRUCTED_DIR).glob("*.xdr.zstd"))
    )


def unified_files(root: Path) -> tuple[str, ...]:
    """Every corpus file whose ledgers carry unified events (REFERENCE §3): the reconciliation set."""
    return MAINNET_20 + MAINNET_OTHER + reconstructed_files(root)


def raw_ledger(root: Path, file: str, index: int = 0) -> bytes:
    """The raw ``LedgerCloseMeta`` XDR of ledger number `index` of corpus `file` (for tests that decode it
    themselves on purpose)."""
    for position, raw in enumerate(iter_file(root / file)):
        if position == index:
            return raw
    raise LookupError(f"{file} holds no ledger #{index}")


def sdk_envelopes(meta: x.LedgerCloseMeta) -> list[x.TransactionEnvelope]:
    """The envelopes of a ledger's transaction set, in stored order, from stellar-sdk's objects alone (for the
    independent walks)."""
    lcm: Any = meta.v0 or meta.v1 or meta.v2
    if meta.v0 is not None:  # LCM v0: a plain transaction set
        return list(lcm.tx_set.txs)
    found: list[x.TransactionEnvelope] = []
    for phase in lcm.tx_set.v1_tx_set.phases:
        if phase.v0_components is not None:
            for component in phase.v0_components:
                found.extend(component.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    found.extend(cluster.dependent_tx_cluster)
    return found


class Decoded:
    """One decoded ledger, as the facts functions see it."""

    def __init__(self, file: str, index: int, raw: bytes, passphrase: str) -> None:
        self.file, self.index, self.passphrase = file, index, passphrase
        self.raw = raw  # for facts that decode the bytes another way (tests/ledgers: the fast decoder)
        self.meta = x.LedgerCloseMeta.from_xdr_bytes(raw)  # stellar-sdk alone
        self.view = LedgerView(self.meta, passphrase)


_FACTS: dict[str, Callable[[Decoded], Any]] = {}


def facts(name: str) -> Callable[[Callable[[Decoded], T]], Callable[[Decoded], T]]:
    """Register a function computing facts of every decoded ledger, read as ``ledger.facts(name)``.

    Packages register at import, so during collection, before any ledger is decoded. The result must not hold
    parts of the decoded ledger (they would keep it alive): plain values only.
    """

    def register(function: Callable[[Decoded], T]) -> Callable[[Decoded], T]:
        if _FACTS.get(name, function) is not function:
            raise ValueError(f"corpus facts {name!r} registered twice")
        _FACTS[name] = function
        return function

    return register


@dataclass(frozen=True)
class _Failure:
    """What failed while a ledger was decoded: the traceback's text (its frames would keep the ledger alive)."""

    text: str


def _outcome(compute: Callable[..., T], *args: Any) -> T | _Failure:
    try:
        return compute(*args)
    except Exception as exc:  # kept, and raised for the tests that read it
        return _Failure("".join(traceback.format_exception(exc)))


def _value(outcome: Any, what: str) -> Any:
    if isinstance(outcome, _Failure):
        raise AssertionError(f"{what} failed while the corpus was decoded:\n{outcome.text}")
    return outcome


@dataclass(frozen=True)
class Ledger:
    """One corpus ledger: where it is, its header facts, every processor's rows and every registered facts."""

    file: str
    index: int
    passphrase: str
    sequence: int
    closed_at: datetime
    protocol: int
    has_unified_events: bool
    transaction_count: int
    _extracted: Mapping[str, Any] = field(repr=False)  # processor name -> tables, or the extractor's error
    _facts: Mapping[str, Any] = field(repr=False)  # facts name -> value, or the function's error

    def extracted(self, processor: str) -> Mapping[str, list[Row]]:
        """What `processor`'s extract returned for this ledger (table -> rows; {} without extract). Shared by
        every test of the session: read, never modify."""
        tables: Mapping[str, list[Row]] = _value(self._extracted[processor], f"{processor} extract")
        return tables

    def rows(self, processor: str, table: str | None = None) -> list[Row]:
        """The rows `processor` extracted into `table` (by default the table named like the processor)."""
        return self.extracted(processor)[table or processor]

    def facts(self, name: str) -> Any:
        return _value(self._facts[name], f"corpus facts {name!r}")


_CACHE: dict[tuple[Path, str], tuple[Ledger, ...] | _Failure] = {}
_SHARED: list[Path] = []  # the run's folder the xdist workers share decodings through, once set


def share_decodings(folder: Path) -> None:
    """Share decoded files with the other workers of the run through `folder` (tests/conftest.py, in a worker)."""
    _SHARED[:] = [folder]


def ledgers(root: Path, file: str) -> tuple[Ledger, ...]:
    """Every ledger of corpus `file`, decoded once per session (see the module docstring)."""
    cached = _CACHE.get((root, file))
    if cached is None and _SHARED:
        cached = _CACHE[(root, file)] = _decoded_by_the_run(root, file, _SHARED[0])
    if cached is None or (not isinstance(cached, _Failure) and _missing_facts(cached)):
        # Not decoded yet, or decoded before a package registered its facts (an import after collection).
        cached = _CACHE[(root, file)] = _outcome(_decode_file, root, file)
    return tuple(_value(cached, f"decoding {file}"))


def _decoded_by_the_run(root: Path, file: str, folder: Path) -> tuple[Ledger, ...] | _Failure:
    """`file` decoded by whichever worker of the run came first (see the module docstring). A failure is not
    shared: each worker decodes again and reports its own."""
    stem = folder / f"corpus-{hashlib.sha256(str(root / file).encode()).hexdigest()[:16]}"
    done = stem.with_suffix(".pickle")
    with open(stem.with_suffix(".lock"), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            shared: tuple[Ledger, ...] = pickle.loads(done.read_bytes())  # noqa: S301 (written by this run)
            if not _missing_facts(shared):
                return shared
        decoded = _outcome(_decode_file, root, file)
        if not isinstance(decoded, _Failure):
            try:
                data = pickle.dumps(decoded, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError):  # facts `facts` rules out: not shared
                return decoded
            partial = stem.with_suffix(".partial")
            partial.write_bytes(data)
            partial.rename(done)
        return decoded


def ledger(root: Path, file: str, index: int = 0) -> Ledger:
    """Ledger number `index` of corpus `file`."""
    return ledgers(root, file)[index]


def _missing_facts(decoded: tuple[Ledger, ...]) -> bool:
    return any(set(_FACTS) - set(one._facts) for one in decoded)


def _decode_file(root: Path, file: str) -> tuple[Ledger, ...]:
    passphrase = network_passphrase_for(file)
    return tuple(_decode(file, index, raw, passphrase) for index, raw in enumerate(iter_file(root / file)))


def _decode(file: str, index: int, raw: bytes, passphrase: str) -> Ledger:
    from processors.registry import default_registry

    # The collector stays off while the decoded ledger is alive: it would traverse its ~1M objects again and
    # again (see ledgers.model.gc_paused). Reference counting frees the ledger when this returns.
    with gc_paused():
        decoded = Decoded(file, index, raw, passphrase)
        view = decoded.view
        return Ledger(
            file=file,
            index=index,
            passphrase=passphrase,
            sequence=view.sequence,
            closed_at=view.closed_at,
            protocol=view.protocol_version,
            has_unified_events=view.has_unified_events,
            transaction_count=view.transaction_count,
            _extracted={p.name: _outcome(_extract, p, view) for p in default_registry().catalogue().values()},
            _facts={name: _outcome(function, decoded) for name, function in _FACTS.items()},
        )


def _extract(processor: Processor, view: LedgerView) -> Mapping[str, list[Row]]:
    return processor.extract(view) if processor.extract is not None else {}


def tenant_results(root: Path, files: Sequence[str], plans: Sequence[TenantPlan]) -> list[LedgerResult]:
    """What `process_ledger(raw, passphrase, plans)` returns for every ledger of `files`, in order, from the
    rows extracted once (fresh row dicts on every call: a test may hand them to the ingestion engine)."""
    return [_tenant_result(one, plans) for file in files for one in ledgers(root, file)]


def _tenant_result(ledger: Ledger, plans: Sequence[TenantPlan]) -> LedgerResult:
    return tenant_rows(
        ledger.sequence, ledger.closed_at, lambda processor: ledger.extracted(processor.name), plans
    )
