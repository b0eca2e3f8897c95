"""Bearer credentials: short-lived JWT access/refresh tokens (PyJWT, EdDSA pinned) and service API tokens.

JWT checks, in order: the header's `alg` must be EdDSA (the only algorithm ever passed to PyJWT, so `none`
and HS256-with-our-public-key are refused), its `kid` must name a key of the ring, then PyJWT verifies the
signature and requires `exp`, `nbf`, `iat`, `iss`, `aud`, `sub` and `jti` with a small leeway; finally the
`typ` claim must be the expected one (a refresh token is not an access token) and `role` a known role.

API tokens (service accounts) are 256-bit random strings with a recognisable prefix; only their SHA-256
is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import jwt

from hub.security._errors import AuthenticationError
from hub.security.keys import KeyRing
from hub.security.roles import Role

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]
API_TOKEN_PREFIX = "vigie_sa_"  # noqa: S105 - a public prefix, not a secret
TokenType = Literal["access", "refresh"]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: Role
    token_type: TokenType
    jti: str
    kid: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


class TokenService:
    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str,
        audience: str,
        access_ttl_s: int = 900,
        refresh_ttl_s: int = 8 * 3600,
        leeway_s: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
        self.access_ttl_s = access_ttl_s
        self.refresh_ttl_s = refresh_ttl_s
        self.leeway_s = leeway_s
        self._clock = clock

    def issue(self, subject: str, role: Role, token_type: TokenType) -> str:
        now = int(self._clock())
        ttl = {"access": self.access_ttl_s, "refresh": self.refresh_ttl_s}[token_type]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "typ": token_type,
            "role": role.value,
        }
        token: str = jwt.encode(
            claims, self.ring.signing_key, algorithm=ALGORITHM, headers={"kid": self.ring.signing_kid}
        )
        return token

    def issue_pair(self, subject: str, role: Role) -> TokenPair:
        return TokenPair(
            access_token=self.issue(subject, role, "access"),
            refresh_token=self.issue(subject, role, "refresh"),
            expires_in=self.access_ttl_s,
        )

    def verify(self, token: str, token_type: TokenType) -> TokenClaims:
        """The claims of a valid token of `token_type`; AuthenticationError (no detail about keys) otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("malformed token") from None
        if header.get("alg") != ALGORITHM:
            raise AuthenticationError("token algorithm not accepted")
        kid = header.get("kid")
        key = self.ring.public(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise AuthenticationError("token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("token expired") from None
        except jwt.PyJWTError as exc:
            raise AuthenticationError(f"invalid token: {type(exc).__name__}") from None
        return _claims(claims, token_type, kid)


def _claims(claims: dict[str, Any], token_type: TokenType, kid: str) -> TokenClaims:
    if claims.get("typ") != token_type:
        raise AuthenticationError(f"wrong token type (expected {token_type})")
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise AuthenticationError("token carries no valid role") from None
    subject, jti, exp = claims["sub"], claims["jti"], claims["exp"]
    if not isinstance(subject, str) or not subject or not isinstance(jti, str) or not isinstance(exp, int):
        raise AuthenticationError("token claims have the wrong types")
    return TokenClaims(subject=subject, role=role, token_type=token_type, jti=jti, kid=kid, expires_at=exp)


def new_api_token() -> tuple[str, str]:
    """A fresh service token and the digest to store. The token is shown once and never stored."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, api_token_digest(token)


def api_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def is_api_token(credential: str) -> bool:
    return credential.startswith(API_TOKEN_PREFIX)
