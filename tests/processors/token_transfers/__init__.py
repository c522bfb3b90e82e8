"""Tests of the TokenTransferProcessor (processors/token_transfers)."""
