"""Webhook secrets and the ``webhook-signature`` header (Standard Webhooks).

Two schemes, chosen per endpoint:

- ``hmac`` (the default): secret ``whsec_`` + base64(24 random bytes); signature ``v1,<base64 HMAC-SHA256>`` of
  ``"{msg_id}.{timestamp}.{body}"`` keyed by the base64-decoded secret. This is exactly what the
  ``standardwebhooks`` libraries verify, so a receiver needs nothing of ours.
- ``ed25519``: secret ``whsk_`` + base64(32-byte seed), public key ``whpk_`` + base64(32-byte raw public key)
  (shown to the tenant and in discovery); signature ``v1a,<base64 64-byte signature>`` over the same content.
  The receiver verifies with the public key and never holds a secret that can sign.

During a rotation the endpoint's ``previous_secret`` keeps signing until ``previous_expires_at``: the header then
carries both signatures, space-separated, the new one first, so a receiver that still has the old secret keeps
verifying while it is updated. The scheme of each secret is read from its prefix, so a rotation may also switch
schemes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from storage.webhooks.tables import ED25519, HMAC

SIGNING_SCHEMES = (HMAC, ED25519)
HMAC_PREFIX, ED25519_SECRET_PREFIX, ED25519_PUBLIC_PREFIX = "whsec_", "whsk_", "whpk_"
HMAC_SECRET_BYTES = 24


class SigningKeys(Protocol):
    """What signing needs of an endpoint (`storage.webhooks.endpoints.Endpoint` has it)."""

    @property
    def secret(self) -> str: ...

    @property
    def previous_secret(self) -> str | None: ...

    @property
    def previous_expires_at(self) -> datetime | None: ...


def new_secret(signing: str) -> tuple[str, str | None]:
    """A fresh secret for `signing` (``hmac`` or ``ed25519``) and, for ed25519, its public key."""
    if signing == HMAC:
        return HMAC_PREFIX + _b64(secrets.token_bytes(HMAC_SECRET_BYTES)), None
    if signing == ED25519:
        secret = ED25519_SECRET_PREFIX + _b64(secrets.token_bytes(32))
        return secret, public_key_of(secret)
    raise ValueError(f"unknown signing scheme {signing!r}; expected one of {', '.join(SIGNING_SCHEMES)}")


def public_key_of(secret: str) -> str:
    """The ``whpk_`` public key of an ed25519 ``whsk_`` secret."""
    raw = _private_key(secret).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return ED25519_PUBLIC_PREFIX + _b64(raw)


def signed_content(msg_id: str, timestamp: int, body: bytes | str) -> bytes:
    """The bytes both schemes sign: ``{msg_id}.{timestamp}.{body}``."""
    raw = body.encode() if isinstance(body, str) else body
    return f"{msg_id}.{timestamp}.".encode() + raw


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One versioned signature (``v1,…`` or ``v1a,…``) with `secret`, its scheme read from its prefix."""
    content = signed_content(msg_id, timestamp, body)
    if secret.startswith(HMAC_PREFIX):
        key = base64.b64decode(secret[len(HMAC_PREFIX) :])
        return "v1," + _b64(hmac.new(key, content, hashlib.sha256).digest())
    if secret.startswith(ED25519_SECRET_PREFIX):
        return "v1a," + _b64(_private_key(secret).sign(content))
    raise ValueError("not a webhook secret (expected whsec_ or whsk_)")


def signature_header(
    endpoint: SigningKeys, msg_id: str, timestamp: int, body: bytes | str, now: datetime
) -> str:
    """The ``webhook-signature`` value for one attempt: the current secret's signature, then, while a rotation's
    grace period lasts (`now` before ``previous_expires_at``), the previous secret's."""
    signatures = [sign(endpoint.secret, msg_id, timestamp, body)]
    expires = endpoint.previous_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        signatures.append(sign(endpoint.previous_secret, msg_id, timestamp, body))
    return " ".join(signatures)


def verify_ed25519(public_key: str, msg_id: str, timestamp: int, body: bytes | str, header: str) -> bool:
    """Whether any ``v1a`` signature in `header` verifies with `public_key` (what a receiver does; used by
    ``obsrvr-flow webhooks listen`` for ed25519 endpoints). Timestamp tolerance is the caller's business."""
    if not public_key.startswith(ED25519_PUBLIC_PREFIX):
        raise ValueError("not a webhook public key (expected whpk_)")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len(ED25519_PUBLIC_PREFIX) :]))
    content = signed_content(msg_id, timestamp, body)
    for versioned in header.split():
        version, _, signature = versioned.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature), content)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def _private_key(secret: str) -> Ed25519PrivateKey:
    if not secret.startswith(ED25519_SECRET_PREFIX):
        raise ValueError("not an ed25519 webhook secret (expected whsk_)")
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(secret[len(ED25519_SECRET_PREFIX) :]))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
