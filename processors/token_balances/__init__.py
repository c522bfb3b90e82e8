"""token_balances processor."""
