"""The demo API key `obsrvr-flow dev` prints: one valid key per demo tenant, the same one run after run.

Secrets are never stored in the database (only their hashes), so `dev` keeps the key it printed in
`.obsrvr-flow/demo-keys.json` (readable by the user only, beside the SQLite database, which holds the data itself):
the next run prints it again while it still works (a user's curl lines, GraphiQL and the console keep working
across restarts), and creates a new one only when it does not (another database, a revoked key, the file
deleted). Either way every other key `dev` made for the tenant (named `dev`) is revoked, so the runs do not pile
up valid keys; keys made by `tenants apply` or `keys create` are left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from core.settings import DATA_DIR
from storage.api_keys import ApiKeyStore, IssuedKey

DEMO_KEY_NAME = "dev"
DEMO_KEYS_FILE = DATA_DIR / "demo-keys.json"


def read_saved(path: Path) -> dict[str, str]:
    """`{tenant_id: secret}` printed by the previous run; nothing when the file is absent or unreadable."""
    try:
        saved = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in saved.items()} if isinstance(saved, dict) else {}


def write_saved(path: Path, saved: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(orjson.dumps(saved, option=orjson.OPT_INDENT_2))


async def demo_key(keys: ApiKeyStore, tenant_id: str, onboarded: IssuedKey | None, saved: str | None) -> str:
    """The tenant's demo key: the key onboarding just issued, else the saved one while it is valid for this
    tenant, else a new one; then every other `dev` key of the tenant is revoked."""
    if onboarded is not None:
        secret, key_id = onboarded.secret, onboarded.key.id
    else:
        current = await keys.verify(saved) if saved else None
        if saved is not None and current is not None and current.tenant_id == tenant_id:
            secret, key_id = saved, current.id
        else:
            issued = await keys.create(tenant_id, ("read:*",), name=DEMO_KEY_NAME)
            secret, key_id = issued.secret, issued.key.id
    for key in await keys.list(tenant_id):
        if key.name == DEMO_KEY_NAME and key.active and key.id != key_id:
            await keys.revoke(tenant_id, key.id)
    return secret
