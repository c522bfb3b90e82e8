"""Token transfers processor."""
