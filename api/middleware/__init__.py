"""Pure ASGI middleware, one concern per file, applied in this order:
admin auth, API key auth -> Latest-Ledger header -> allowlist -> rate limit -> usage."""
