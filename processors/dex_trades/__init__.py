"""dex_trades processor."""
