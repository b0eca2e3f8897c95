"""JWT done right: every forged, stale or foreign token is a 401; a too-low role is a 403."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from contracts.signing import generate_private_key, key_id
from hub.security._errors import AuthenticationError
from hub.security.keys import KeyRing
from hub.security.roles import Role
from hub.security.tokens import TokenService
from tests.security.conftest import bearer, security_of, user_token

READER_ROUTE = "/api/v1/auth/me"
OPERATOR_ROUTE = "/api/v1/gateways"  # POST needs operator


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(service: TokenService, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": service.issuer, "aud": service.audience, "sub": "u-reader", "iat": now, "nbf": now,
              "exp": now + 300, "jti": "j1", "typ": "access", "role": "reader"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(service: TokenService, claims: dict[str, Any], **header: Any) -> str:
    token: str = jwt.encode(claims, service.ring.signing_key, algorithm="EdDSA",
                            headers={"kid": service.ring.signing_kid, **header})
    return token


def _forgeries(service: TokenService) -> dict[str, str]:
    public_pem = service.ring.signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = service.ring.signing_kid
    good = _sign(service, _claims(service))
    head, body, sig = good.split(".")
    tampered_body = json.loads(base64.urlsafe_b64decode(body + "=="))
    tampered_body["role"] = "admin"
    other = generate_private_key()
    none_header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    hs_body = _b64(json.dumps(_claims(service)).encode())
    hs_sig = _b64(hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest())
    return {
        "alg none": f"{none_header}.{hs_body}.",
        "HS256 signed with our public key": f"{hs_header}.{hs_body}.{hs_sig}",
        "expired": _sign(service, _claims(service, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200,
                                          exp=int(time.time()) - 3600)),
        "nbf in the future": _sign(service, _claims(service, nbf=int(time.time()) + 3600)),
        "wrong aud": _sign(service, _claims(service, aud="someone-else")),
        "wrong iss": _sign(service, _claims(service, iss="https://evil.example")),
        "missing exp": _sign(service, _claims(service, exp=None)),
        "tampered payload": f"{head}.{_b64(json.dumps(tampered_body).encode())}.{sig}",
        "unknown kid": jwt.encode(_claims(service), other, algorithm="EdDSA",
                                  headers={"kid": key_id(other.public_key())}),
        "our kid, foreign key": jwt.encode(_claims(service), other, algorithm="EdDSA", headers={"kid": kid}),
        "no kid": jwt.encode(_claims(service), service.ring.signing_key, algorithm="EdDSA"),
        "refresh token used as access": _sign(service, _claims(service, typ="refresh")),
        "unknown role": _sign(service, _claims(service, role="root")),
        "garbage": "not.a.jwt",
        "unknown user": _sign(service, _claims(service, sub="nobody")),
        "unknown API token": "vigie_sa_" + "A" * 43,
    }


CASES = list(_forgeries(TokenService(KeyRing(generate_private_key()), issuer="i", audience="a")))


@pytest.mark.parametrize("case", CASES)
def test_bad_tokens_get_401(hub_client: TestClient, case: str) -> None:
    user_token(hub_client, Role.READER)  # u-reader exists and is active: only the token is wrong
    token = _forgeries(security_of(hub_client).tokens)[case]
    response = hub_client.get(READER_ROUTE, headers=bearer(token))
    assert response.status_code == 401, (case, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_good_token_passes_and_reader_gets_403_on_operator_route(hub_client: TestClient) -> None:
    token = user_token(hub_client, Role.READER)
    assert hub_client.get(READER_ROUTE, headers=bearer(token)).json() == {
        "name": "u-reader", "role": "reader", "kind": "human"}
    response = hub_client.post(OPERATOR_ROUTE, headers=bearer(token), json={"id": "gw-x", "site": "paris"})
    assert response.status_code == 403
    operator = user_token(hub_client, Role.OPERATOR)
    response = hub_client.post(OPERATOR_ROUTE, headers=bearer(operator), json={"id": "gw-x", "site": "paris"})
    assert response.status_code == 201, response.text


def test_missing_or_non_bearer_header_gets_401(hub_client: TestClient) -> None:
    assert hub_client.get(READER_ROUTE).status_code == 401
    token = user_token(hub_client, Role.READER)
    assert hub_client.get(READER_ROUTE, headers={"Authorization": f"Basic {token}"}).status_code == 401


def test_role_comes_from_the_database_and_disabling_is_immediate(hub_client: TestClient) -> None:
    security = security_of(hub_client)
    token = user_token(hub_client, Role.ADMIN, "boss")
    assert hub_client.get("/api/v1/users", headers=bearer(token)).status_code == 200
    security.users.set_role("boss", Role.READER)
    assert hub_client.get("/api/v1/users", headers=bearer(token)).status_code == 403
    security.users.set_disabled("boss")
    assert hub_client.get(READER_ROUTE, headers=bearer(token)).status_code == 401


def test_rotated_key_tokens_are_accepted_by_kid() -> None:
    old, new = generate_private_key(), generate_private_key()
    before = TokenService(KeyRing(old), issuer="i", audience="a")
    token = before.issue("alice", Role.READER, "access")
    after = TokenService(KeyRing(new, [old.public_key()]), issuer="i", audience="a")
    assert after.verify(token, "access").kid == key_id(old.public_key())
    assert after.verify(after.issue("alice", Role.READER, "access"), "access").kid == key_id(new.public_key())
    retired = TokenService(KeyRing(new), issuer="i", audience="a")
    with pytest.raises(AuthenticationError, match="unknown key"):
        retired.verify(token, "access")


def test_issued_tokens_carry_the_required_claims() -> None:
    service = TokenService(KeyRing(generate_private_key()), issuer="i", audience="a", access_ttl_s=60)
    token = service.issue("alice", Role.OPERATOR, "access")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"] == service.ring.signing_kid
    assert {"exp", "nbf", "iat", "iss", "aud", "sub", "jti", "typ", "role"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 60
