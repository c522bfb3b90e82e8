"""dex_volume processor."""
