"""Signatures verify with what receivers use: the `standardwebhooks` package (v1) and `cryptography` (v1a)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks.signing import (
    new_secret,
    public_key_of,
    signature_header,
    signed_content,
    verify_ed25519,
)

BODY = '{"event_id":"msg_ep_1_token_transfer_42","data":{"amount":"10"}}'
MSG_ID = "msg_ep_1_token_transfer_42"


@dataclass(frozen=True)
class Keys:
    secret: str
    previous_secret: str | None = None
    previous_expires_at: datetime | None = None


def _headers(msg_id: str, ts: int, signature: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_new_secrets_have_the_documented_shape() -> None:
    secret, public = new_secret("hmac")
    assert secret.startswith("whsec_") and public is None
    assert len(base64.b64decode(secret[6:])) == 24
    assert new_secret("hmac")[0] != secret
    secret, public = new_secret("ed25519")
    assert secret.startswith("whsk_") and len(base64.b64decode(secret[5:])) == 32
    assert public is not None and public.startswith("whpk_") and len(base64.b64decode(public[5:])) == 32
    assert public_key_of(secret) == public
    with pytest.raises(ValueError, match="unknown signing scheme"):
        new_secret("rsa")


def test_hmac_signature_verifies_with_standardwebhooks() -> None:
    secret, _ = new_secret("hmac")
    ts = int(time.time())
    header = signature_header(Keys(secret), MSG_ID, ts, BODY, datetime.now(UTC))
    assert header.startswith("v1,") and " " not in header
    assert Webhook(secret).verify(BODY, _headers(MSG_ID, ts, header)) == {
        "event_id": MSG_ID,
        "data": {"amount": "10"},
    }
    # Any change of body, id or timestamp breaks it; so does another secret.
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("10", "11"), _headers(MSG_ID, ts, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, _headers(MSG_ID + "x", ts, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, _headers(MSG_ID, ts + 1, header))
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret("hmac")[0]).verify(BODY, _headers(MSG_ID, ts, header))


def test_ed25519_signature_verifies_with_cryptography() -> None:
    secret, public = new_secret("ed25519")
    assert public is not None
    ts = int(time.time())
    header = signature_header(Keys(secret), MSG_ID, ts, BODY.encode(), datetime.now(UTC))
    version, _, sig = header.partition(",")
    assert version == "v1a" and len(base64.b64decode(sig)) == 64
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public[5:]))
    key.verify(base64.b64decode(sig), f"{MSG_ID}.{ts}.{BODY}".encode())  # raises if wrong
    assert signed_content(MSG_ID, ts, BODY) == f"{MSG_ID}.{ts}.{BODY}".encode()
    assert verify_ed25519(public, MSG_ID, ts, BODY, header)
    assert not verify_ed25519(public, MSG_ID, ts, BODY + " ", header)
    other = new_secret("ed25519")[1]
    assert other is not None and not verify_ed25519(other, MSG_ID, ts, BODY, header)
    # An hmac receiver ignores v1a signatures rather than failing on them.
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret("hmac")[0]).verify(BODY, _headers(MSG_ID, ts, header))


def test_rotation_sends_both_signatures_until_the_grace_period_ends() -> None:
    old, _ = new_secret("hmac")
    new, _ = new_secret("hmac")
    now = datetime.now(UTC)
    keys = Keys(new, previous_secret=old, previous_expires_at=now + timedelta(hours=24))
    ts = int(time.time())
    header = signature_header(keys, MSG_ID, ts, BODY, now)
    first, second = header.split(" ")
    assert first.startswith("v1,") and second.startswith("v1,")
    # New first; a receiver with either secret verifies.
    assert signature_header(Keys(new), MSG_ID, ts, BODY, now) == first
    Webhook(new).verify(BODY, _headers(MSG_ID, ts, header))
    Webhook(old).verify(BODY, _headers(MSG_ID, ts, header))
    # After the grace period only the new secret signs.
    later = signature_header(keys, MSG_ID, ts, BODY, now + timedelta(hours=24))
    assert later == first
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, _headers(MSG_ID, ts, later))


def test_rotation_may_switch_scheme() -> None:
    old, _ = new_secret("hmac")
    new, public = new_secret("ed25519")
    assert public is not None
    now = datetime.now(UTC)
    ts = int(time.time())
    header = signature_header(
        Keys(new, previous_secret=old, previous_expires_at=now + timedelta(hours=1)), MSG_ID, ts, BODY, now
    )
    assert header.startswith("v1a,") and " v1," in header
    assert verify_ed25519(public, MSG_ID, ts, BODY, header)
    Webhook(old).verify(BODY, _headers(MSG_ID, ts, header))
