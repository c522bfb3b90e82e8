"""Admin credentials: a bearer JWT (signature, issuer, audience and expiry checked, with joserfc, the maintained
successor of `authlib.jose`) or the configured static admin token. Checked by the admin middleware and by
`/metrics`, which admits operators."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from core.errors import Unauthorized
from core.settings import Settings

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="obsrvr-flow-admin"'}


@dataclass(frozen=True)
class AdminPrincipal:
    subject: str
    method: str  # "token" or "jwt"


class AdminVerifier:
    """Checks admin bearer credentials against the settings; built once per app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token = settings.admin_token.get_secret_value() if settings.admin_token else None
        self.key: Any = None
        self.algorithms: list[str] = []
        if settings.admin_jwt_secret is not None:
            self.key = OctKey.import_key(settings.admin_jwt_secret.get_secret_value())
            self.algorithms = ["HS256", "HS384", "HS512"]
        elif settings.admin_jwt_public_key:
            self.key, self.algorithms = _import_public_key(settings.admin_jwt_public_key)
        self.claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": settings.admin_jwt_issuer},
            aud={"essential": True, "value": settings.admin_jwt_audience},
            exp={"essential": True},
        )

    @property
    def configured(self) -> bool:
        return self.token is not None or self.key is not None

    def verify(self, credential: str) -> AdminPrincipal:
        """The admin behind `credential`; else `Unauthorized` (with the admin realm's challenge)."""
        if not self.configured:
            raise _refused(
                "the admin API is not configured: set OBSRVR_ADMIN_TOKEN or OBSRVR_ADMIN_JWT_SECRET "
                "(or OBSRVR_ADMIN_JWT_PUBLIC_KEY)",
                "admin_not_configured",
            )
        if not credential:
            raise _refused(
                "send an admin credential as 'Authorization: Bearer <token or JWT>'", "unauthorized"
            )
        if self.token is not None and hmac.compare_digest(credential.encode(), self.token.encode()):
            return AdminPrincipal("admin-token", "token")
        if self.key is None or credential.count(".") != 2:
            raise _refused("invalid admin credential", "invalid_admin_credential")
        try:
            token = jwt.decode(credential, self.key, algorithms=self.algorithms)
            self.claims.validate(token.claims)
        except ExpiredTokenError as exc:
            raise _refused("the admin JWT has expired", "invalid_admin_credential") from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            raise _refused(f"the admin JWT is not valid here: {exc}", "invalid_admin_credential") from exc
        except (JoseError, ValueError) as exc:
            raise _refused(f"the admin JWT could not be verified: {exc}", "invalid_admin_credential") from exc
        return AdminPrincipal(str(token.claims.get("sub", "jwt")), "jwt")


def _refused(message: str, code: str) -> Unauthorized:
    return Unauthorized(message, code=code, headers=CHALLENGE)


def _import_public_key(value: str) -> tuple[Any, list[str]]:
    pem = Path(value).read_text() if not value.lstrip().startswith("-----") else value
    for key_cls, algorithms in (
        (RSAKey, ["RS256", "RS384", "RS512", "PS256"]),
        (ECKey, ["ES256", "ES384", "ES512"]),
        (OKPKey, ["EdDSA"]),
    ):
        try:
            return key_cls.import_key(pem), algorithms
        except (JoseError, ValueError, TypeError):
            continue
    raise ValueError("OBSRVR_ADMIN_JWT_PUBLIC_KEY is not an RSA, EC or Ed25519 public key")
