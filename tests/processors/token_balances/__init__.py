"""Tests of the TokenBalanceProcessor (the corpus ingestion is shared with the account balance tests)."""
