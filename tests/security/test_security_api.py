"""Login, refresh, users and service tokens through the API; each request and state change is audited."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from hub.audit import merkle
from hub.audit.checkpoints import SignedCheckpoint, verify_checkpoint
from hub.audit.entries import parse_entry
from hub.security.roles import Role
from tests.security.conftest import ADMIN, ADMIN_PASSWORD, bearer, running, security_of, security_settings, user_token


def _login(client: TestClient, user: str, password: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def _entries(client: TestClient, token: str) -> list[dict]:
    found: list[dict] = []
    start: int | None = 0
    while start is not None:
        page = client.get("/api/v1/audit/entries", params={"start": start, "limit": 1000}, headers=bearer(token)).json()
        found += [e["entry"] for e in page["entries"]]
        start = page["next"]
    return found


def test_password_login_refresh_and_me(hub_client: TestClient) -> None:
    pair = _login(hub_client, ADMIN, ADMIN_PASSWORD)
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 900
    assert hub_client.get("/api/v1/auth/me", headers=bearer(pair["access_token"])).json()["role"] == "admin"
    # the refresh token is not an access token, and the access token is not a refresh token
    assert hub_client.get("/api/v1/auth/me", headers=bearer(pair["refresh_token"])).status_code == 401
    assert hub_client.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}).status_code == 401
    renewed = hub_client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200
    assert hub_client.get("/api/v1/auth/me", headers=bearer(renewed.json()["access_token"])).status_code == 200


def test_users_and_service_tokens_lifecycle(hub_client: TestClient) -> None:
    admin = user_token(hub_client, Role.ADMIN)
    created = hub_client.post("/api/v1/users", headers=bearer(admin),
                              json={"name": "tech-1", "role": "reader", "password": "tech-1-password-xyz"})
    assert created.status_code == 201, created.text
    again = hub_client.post("/api/v1/users", headers=bearer(admin),
                            json={"name": "tech-1", "role": "reader", "password": "tech-1-password-xyz"})
    assert again.status_code == 409
    weak = hub_client.post("/api/v1/users", headers=bearer(admin),
                           json={"name": "weak", "role": "reader", "password": "short"})
    assert weak.status_code == 422  # the schema's minimum length
    tech = _login(hub_client, "tech-1", "tech-1-password-xyz")["access_token"]
    assert hub_client.get("/api/v1/gateways", headers=bearer(tech)).status_code == 200

    bot = hub_client.post("/api/v1/users", headers=bearer(admin), json={"name": "ci-bot", "role": "operator",
                                                                         "kind": "service"})
    assert bot.status_code == 201
    issued = hub_client.post("/api/v1/users/ci-bot/tokens", headers=bearer(admin), json={"label": "ci"})
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    api_token, token_id = issued.json()["token"], issued.json()["id"]
    assert api_token.startswith("vigie_sa_")
    assert hub_client.get("/api/v1/auth/me", headers=bearer(api_token)).json() == {
        "name": "ci-bot", "role": "operator", "kind": "service"}
    listed = hub_client.get("/api/v1/users/ci-bot/tokens", headers=bearer(admin)).json()
    assert "token" not in listed[0] and listed[0]["hint"] == api_token[:13]
    # a service account cannot log in with a password; a person cannot get API tokens
    assert hub_client.post("/api/v1/auth/token", data={"username": "ci-bot", "password": "x" * 12}).status_code == 401
    assert hub_client.post("/api/v1/users/tech-1/tokens", headers=bearer(admin), json={"label": "x"}).status_code == 409

    assert hub_client.delete(f"/api/v1/users/ci-bot/tokens/{token_id}", headers=bearer(admin)).json()["revoked"]
    assert hub_client.get("/api/v1/auth/me", headers=bearer(api_token)).status_code == 401

    disabled = hub_client.patch("/api/v1/users/tech-1", headers=bearer(admin), json={"disabled": True})
    assert disabled.json()["disabled"] is True
    assert hub_client.get("/api/v1/gateways", headers=bearer(tech)).status_code == 401
    assert hub_client.post("/api/v1/auth/token", data={"username": "tech-1",
                                                       "password": "tech-1-password-xyz"}).status_code == 401


def test_every_request_and_state_change_is_an_entry(hub_client: TestClient) -> None:
    admin = user_token(hub_client, Role.ADMIN, "auditor")
    response = hub_client.get("/api/v1/gateways/gw-unknown", headers={**bearer(admin), "X-Request-ID": "req-42"})
    assert response.headers["x-request-id"] == "req-42"
    assert hub_client.get("/api/v1/gateways").headers["x-request-id"]  # generated when absent
    hub_client.post("/api/v1/users", headers=bearer(admin), json={"name": "temp", "role": "reader",
                                                                   "kind": "service"})
    entries = _entries(hub_client, admin)
    request = next(e for e in entries if e["type"] == "http.request" and e["data"]["request_id"] == "req-42")
    assert request["actor"] == "auditor" and request["role"] == "admin"
    assert request["data"] == {"method": "GET", "route": "/api/v1/gateways/{gateway_id}", "status": 404,
                               "ms": request["data"]["ms"], "request_id": "req-42", "client": "testclient"}
    anonymous = [e for e in entries if e["type"] == "http.request" and e["data"]["status"] == 401]
    assert anonymous and all(e["actor"] == "anonymous" for e in anonymous)
    kinds = {e["type"] for e in entries}
    assert {"key.use", "user.add", "http.request"} <= kinds
    added = next(e for e in entries if e["type"] == "user.add" and e["data"]["user"] == "temp")
    assert added["actor"] == "auditor"
    # entries chain: each index is its position and its prev is the leaf hash of the one before
    assert [e["index"] for e in entries] == list(range(len(entries)))


def test_login_attempts_are_audited_and_throttled(tmp_path: Path) -> None:
    with running(security_settings(tmp_path, login_max_failures=3, login_lockout_s=600)) as client:
        for _ in range(3):
            assert client.post("/api/v1/auth/token", data={"username": ADMIN, "password": "wrong-password-1"}
                               ).status_code == 401
        locked = client.post("/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        security = security_of(client)
        logins = [parse_entry(r.canonical) for r in security.audit.entries(0, 1000)]
        outcomes = [e.data["outcome"] for e in logins if e.type == "auth.login"]
        assert outcomes == ["failed", "failed", "failed", "throttled"]


def test_checkpoints_reach_the_witness_and_proofs_verify(tmp_path: Path) -> None:
    settings = security_settings(tmp_path, checkpoint_every_entries=5)
    with running(settings) as client:
        token = user_token(client, Role.READER)
        for _ in range(12):
            client.get("/api/v1/auth/me", headers=bearer(token))
        checkpoint = client.get("/api/v1/audit/checkpoint", headers=bearer(token)).json()
        key = client.get("/api/v1/audit/key", headers=bearer(token)).json()
        size = checkpoint["checkpoint"]["size"]
        proof = client.get("/api/v1/audit/proof/inclusion", params={"index": 3}, headers=bearer(token)).json()
        assert proof["treeSize"] == size and proof["root"] == checkpoint["checkpoint"]["root"]
        consistency = client.get("/api/v1/audit/proof/consistency", params={"size1": 2, "size2": size},
                                 headers=bearer(token)).json()
        assert client.get("/api/v1/audit/proof/inclusion", params={"index": size + 100},
                          headers=bearer(token)).status_code == 404
        security = security_of(client)
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public = load_pem_public_key(key["public_key_pem"].encode())
    signed = verify_checkpoint(SignedCheckpoint.from_json(checkpoint), [public], settings.security.audit_origin)  # type: ignore[list-item]
    b64 = __import__("base64").b64decode
    merkle.verify_inclusion(3, size, b64(proof["leafHash"]), [b64(p) for p in proof["proof"]], signed.root)
    merkle.verify_consistency(2, size, [b64(p) for p in consistency["proof"]], b64(consistency["root1"]),
                              signed.root)
    witness_lines = settings.security.resolved_witness_file(settings.data_dir).read_text().splitlines()
    sizes = [json.loads(line)["checkpoint"]["size"] for line in witness_lines]
    assert sizes == sorted(sizes) and len(sizes) >= 3
    assert sizes[-1] == security.audit.size()  # the final checkpoint at shutdown covers everything
