"""Pure ASGI middleware, one concern per file, applied in this order (`api.app.create_app`):
request id -> access log -> HTTP metrics -> admin auth, API key auth -> Latest-Ledger header -> allowlist ->
rate limit -> usage."""
