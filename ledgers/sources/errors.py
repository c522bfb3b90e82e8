"""Errors raised by ledger sources, on the service's one error tree (`core.errors.FlowError`).

They are operator-facing: a worker or the CLI shows the message as is, so each one names what was asked
for and where it was looked up (the ledger sequence, the object key, the URL).
"""

from __future__ import annotations

from typing import Any

from core.errors import FlowError


class LedgerSourceError(FlowError):
    """Base of every error a ledger source raises on purpose."""

    code = "ledger_source_error"
    status = 502


class SourceConfigError(LedgerSourceError):
    """A source URL or option that cannot work (unknown scheme, bad option, missing config)."""

    code = "source_config_error"
    status = 500


class PassphraseMismatch(SourceConfigError):
    """The source holds ledgers of another network than the one asked for."""

    code = "passphrase_mismatch"


class LedgerNotFound(LedgerSourceError):
    """A ledger the caller asked for is not in the source."""

    code = "ledger_not_found"
    status = 404

    def __init__(self, message: str, *, sequence: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details={"sequence": sequence, **(details or {})})
        self.sequence = sequence


class LedgerOutOfRetention(LedgerNotFound):
    """The ledger is older than what the source keeps (Stellar RPC keeps about 7 days)."""

    code = "ledger_out_of_retention"


class SourceUnavailable(LedgerSourceError):
    """The source kept failing after every retry (network, 5xx, timeouts)."""

    code = "source_unavailable"
    status = 503


class SourceDataError(LedgerSourceError):
    """The source answered with bytes that are not what its format promises."""

    code = "invalid_ledger_data"
