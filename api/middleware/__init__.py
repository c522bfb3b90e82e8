"""Pure ASGI middleware, one concern per file, applied in this order:
admin auth, API key auth -> allowlist -> rate limit -> usage."""
