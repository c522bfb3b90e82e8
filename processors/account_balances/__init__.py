"""account_balances processor."""
