"""Transport and secrets: HTTPS with a certificate, no default key in production, no secret in any log."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from contracts.signing import generate_private_key, save_private_key
from hub._errors import ConfigError
from hub.app import HubServer, create_app
from tests.harness import wait_until
from tests.harness._util import free_port
from tests.harness.pki import HarnessPki
from tests.security.conftest import security_settings


def test_hub_serves_https_with_a_certificate(tmp_path: Path, pki: HarnessPki) -> None:
    settings = security_settings(tmp_path, tls_certfile=pki.paths.broker_cert, tls_keyfile=pki.paths.broker_key)
    settings.api.port = 0
    with HubServer(settings, host="127.0.0.1") as server:
        assert server.url.startswith("https://")
        response = httpx.get(f"{server.url}/healthz", verify=ssl.create_default_context(cafile=str(pki.ca)),
                             timeout=10)
        assert response.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url.replace("https://", "http://") + "/healthz", timeout=5)
        with pytest.raises(httpx.HTTPError):  # an unknown CA is refused by the client
            httpx.get(f"{server.url}/healthz", timeout=5)


def test_half_a_tls_configuration_is_refused(tmp_path: Path, pki: HarnessPki) -> None:
    with pytest.raises(ConfigError, match="tls"):
        create_app(security_settings(tmp_path, tls_certfile=pki.paths.broker_cert))


def test_production_has_no_default_keys(tmp_path: Path) -> None:
    settings = security_settings(tmp_path, bootstrap_admin="", witness_file=tmp_path / "w.jsonl")
    settings.mode = "production"
    with pytest.raises(ConfigError, match=r"security\.(jwt|audit)_key_file"):
        create_app(settings)
    assert not (tmp_path / "hub" / "keys").exists()


def test_production_refuses_a_key_readable_by_others(tmp_path: Path) -> None:
    key = tmp_path / "jwt.pem"
    save_private_key(generate_private_key(), key)
    audit_key = tmp_path / "audit.pem"
    save_private_key(generate_private_key(), audit_key)
    key.chmod(0o644)
    settings = security_settings(tmp_path, bootstrap_admin="", jwt_key_file=key, audit_key_file=audit_key,
                                 witness_file=tmp_path / "w.jsonl")
    settings.mode = "production"
    with pytest.raises(ConfigError, match="readable by others"):
        create_app(settings)
    key.chmod(0o600)
    create_app(settings)


def _secret_forms(pem: bytes) -> list[str]:
    """The PEM body lines and the raw key bytes (base64, base64url and hex) of a private key."""
    key = serialization.load_pem_private_key(pem, password=None)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,  # type: ignore[arg-type]
                            serialization.NoEncryption())
    lines = [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]
    return [*lines, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="), raw.hex()]


def test_no_secret_in_the_logs_of_a_full_run(tmp_path: Path) -> None:
    jwt_pem = generate_private_key()
    jwt_bytes = jwt_pem.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    audit_key = tmp_path / "audit.pem"
    save_private_key(generate_private_key(), audit_key)
    admin_password = "Adm1n-s3cret-passw0rd"
    port = free_port()
    env = {
        **os.environ,
        "VIGIE_HUB_DATA_DIR": str(tmp_path / "hub"),
        "VIGIE_HUB_LOG_LEVEL": "DEBUG",
        "VIGIE_HUB_LOG_FORMAT": "json",
        "VIGIE_HUB_INGEST__ENABLED": "false",
        "VIGIE_HUB_SERIES__SQLITE_PATH": str(tmp_path / "series.db"),
        "VIGIE_HUB_API__PORT": str(port),
        "VIGIE_HUB_SECURITY__JWT_KEY": jwt_bytes.decode(),
        "VIGIE_HUB_SECURITY__AUDIT_KEY_FILE": str(audit_key),
        "VIGIE_HUB_SECURITY__BOOTSTRAP_ADMIN": "root",
        "VIGIE_HUB_SECURITY__BOOTSTRAP_ADMIN_PASSWORD": admin_password,
    }
    log_file = tmp_path / "hub.log"
    secrets: list[str] = [admin_password, *_secret_forms(jwt_bytes), *_secret_forms(audit_key.read_bytes())]
    with log_file.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "vigie", "hub", "serve"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: _up(base), timeout=60, what="hub serving")
            with httpx.Client(base_url=base, timeout=10) as client:
                assert client.post("/api/v1/auth/token", data={"username": "root", "password": "wrong-pass-123"}
                                   ).status_code == 401
                pair = client.post("/api/v1/auth/token", data={"username": "root", "password": admin_password}
                                   ).json()
                auth = {"Authorization": f"Bearer {pair['access_token']}"}
                renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json()
                user_password = "Techn1cian-passw0rd"
                client.post("/api/v1/users", headers=auth, json={"name": "tech", "role": "reader",
                                                                  "password": user_password})
                client.post("/api/v1/users", headers=auth, json={"name": "bot", "role": "reader", "kind": "service"})
                api_token = client.post("/api/v1/users/bot/tokens", headers=auth, json={"label": "x"}).json()["token"]
                assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {api_token}"}
                                  ).status_code == 200
                client.get("/api/v1/gateways", params={"token": "in-a-query-string"}, headers=auth)
                assert client.get("/api/v1/audit/entries", headers=auth).status_code == 200
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    for token in (pair["access_token"], pair["refresh_token"], renewed["access_token"], renewed["refresh_token"]):
        secrets += [token, token.rsplit(".", 1)[1]]
    secrets += [api_token, user_password, "in-a-query-string"]
    haystacks = {"log": log_file.read_text(errors="replace")}
    haystacks["witness"] = (tmp_path / "hub" / "audit-witness.jsonl").read_text()
    haystacks["audit entries"] = _audit_text(tmp_path / "hub" / "hub.db")
    assert "hub started" in haystacks["log"] and '"level": "debug"' in haystacks["log"]
    for name, text in haystacks.items():
        leaked = [s[:12] + "..." for s in secrets if s in text]
        assert not leaked, f"secrets found in the {name}: {leaked}"
    check = subprocess.run([sys.executable, "-m", "vigie", "hub", "check-config"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert not [s for s in secrets if s in check.stdout + check.stderr]
    assert "**********" in check.stdout


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _audit_text(db: Path) -> str:
    import sqlite3

    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT canonical FROM audit_entries").fetchall()
    return "\n".join(bytes(r[0]).decode() for r in rows)
