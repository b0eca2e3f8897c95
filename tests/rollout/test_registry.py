"""The model registry over the real hub app: publish (verify, immutability), list, show, deprecate, audit,
and the `vigie model` commands against a hub served over HTTP."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.distribution.repository import TufRepository
from tests.rollout._fleet import HubHandle, Trained, bundle_tar, hub_settings, running_hub
from vigie.cli import cli

TAR = {"Content-Type": "application/x-tar"}


@pytest.fixture
def hub(tmp_path: Path, release_pub: Path) -> Iterator[HubHandle]:
    with running_hub(hub_settings(tmp_path, None, release_pub)) as handle:
        yield handle


def _publish(hub: HubHandle, tar: Path, expect: int | tuple[int, ...], token: str | None = None) -> dict:
    headers = dict(TAR, **({"Authorization": f"Bearer {token}"} if token else {}))
    return hub.call("POST", "/api/v1/models", expect, content=tar.read_bytes(), headers=headers)


def _audit_types(hub: HubHandle) -> list[tuple[str, dict]]:
    page = hub.call("GET", "/api/v1/audit/entries", params={"limit": 1000})
    return [(e["entry"]["type"], e["entry"]["data"]) for e in page["entries"]]


def test_publish_is_verified_immutable_and_audited(hub: HubHandle, bundle_tars: dict[str, Path]) -> None:
    operator = hub.token_for("publisher", "operator")
    created = _publish(hub, bundle_tars["1.1.0"], 201, operator)
    assert (created["name"], created["version"], created["published_by"]) == ("pump", "1.1.0", "publisher")
    again = _publish(hub, bundle_tars["1.1.0"], 200, operator)
    assert again["bundle_sha256"] == created["bundle_sha256"]
    conflict = hub.client.post("/api/v1/models", content=bundle_tars["1.1.0-other"].read_bytes(), headers=TAR)
    assert conflict.status_code == 409 and "other bytes" in conflict.json()["detail"]
    repo = TufRepository(hub.settings.data_dir / "tuf")
    target = repo.targets()["pump/1.1.0.tar"]
    assert target.hashes["sha256"] == created["bundle_sha256"]
    published = [d for t, d in _audit_types(hub) if t == "model.publish"]
    assert [(d["version"], d["created"]) for d in published] == [("1.1.0", True), ("1.1.0", False)]


def test_invalid_bundles_are_refused(hub: HubHandle, tmp_path: Path, trained: Trained,
                                     bundle_tars: dict[str, Path]) -> None:
    stranger = bundle_tar(tmp_path, trained, "9.0.0", Ed25519PrivateKey.generate())
    response = hub.client.post("/api/v1/models", content=stranger.read_bytes(), headers=TAR)
    assert response.status_code == 422 and "signature" in response.json()["detail"]
    members = _untar(bundle_tars["1.0.0"])
    members["model.onnx"] = members["model.onnx"][:-1] + bytes([members["model.onnx"][-1] ^ 1])
    response = hub.client.post("/api/v1/models", content=_tar(members), headers=TAR)
    assert response.status_code == 422 and "model.onnx" in response.json()["detail"]
    response = hub.client.post("/api/v1/models", content=b"not a tar", headers=TAR)
    assert response.status_code == 422
    assert hub.call("GET", "/api/v1/models") == []


def test_roles_list_show_deprecate(hub: HubHandle, bundle_tars: dict[str, Path]) -> None:
    reader = hub.token_for("technician", "reader")
    response = hub.client.post("/api/v1/models", content=bundle_tars["1.0.0"].read_bytes(),
                               headers={**TAR, "Authorization": f"Bearer {reader}"})
    assert response.status_code == 403
    for version in ("1.1.0", "1.0.0"):
        _publish(hub, bundle_tars[version], 201)
    listing = hub.client.get("/api/v1/models", headers={"Authorization": f"Bearer {reader}"}).json()
    assert [r["version"] for r in listing] == ["1.0.0", "1.1.0"]
    shown = hub.call("GET", "/api/v1/models/pump/1.0.0")
    assert shown["manifest"]["version"] == "1.0.0" and shown["algorithm"]
    hub.call("GET", "/api/v1/models/pump/7.0.0", 404)
    deprecated = hub.call("POST", "/api/v1/models/pump/1.0.0/deprecate", json={"reason": "drifts in winter"})
    assert deprecated["deprecated"] and deprecated["deprecated_reason"] == "drifts in winter"
    assert ("model.deprecate", {"model": "pump", "version": "1.0.0", "reason": "drifts in winter"}) in _audit_types(hub)


def test_model_commands(hub: HubHandle, bundle_tars: dict[str, Path], tmp_path: Path) -> None:
    token = hub.token_for("ci", "operator")
    runner = CliRunner()
    env = {"VIGIE_HUB_URL": hub.url, "VIGIE_TOKEN": token}
    folder = tmp_path / "bundle"
    folder.mkdir()
    for name, data in _untar(bundle_tars["1.0.0"]).items():
        (folder / name).write_bytes(data)
    result = runner.invoke(cli, ["model", "publish", str(folder), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == "1.0.0"
    result = runner.invoke(cli, ["model", "publish", str(bundle_tars["1.0.0"])], env=env)  # same bytes as a .tar
    assert result.exit_code == 0 and "published pump 1.0.0" in result.output
    _publish(hub, bundle_tars["1.1.0"], 201)
    result = runner.invoke(cli, ["model", "publish", str(bundle_tars["1.1.0-other"])], env=env)
    assert result.exit_code == 1 and "other bytes" in result.output
    result = runner.invoke(cli, ["model", "versions", "--json"], env=env)
    assert [r["version"] for r in json.loads(result.output)] == ["1.0.0", "1.1.0"]
    result = runner.invoke(cli, ["model", "deprecate", "pump", "1.0.0", "--reason", "old"], env=env)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["model", "show", "pump", "1.0.0"], env=env)
    assert result.exit_code == 0 and "DEPRECATED (old)" in result.output
    result = runner.invoke(cli, ["model", "versions"], env={**env, "VIGIE_TOKEN": "vigie_wrong"})
    assert result.exit_code == 3
    result = runner.invoke(cli, ["model", "versions", "--hub", "http://127.0.0.1:9"], env=env)
    assert result.exit_code == 4


def test_rollout_commands_report_errors(hub: HubHandle, tmp_path: Path) -> None:
    """Without a broker this hub runs no controller: the CLI must say so; bad gate files are config errors."""
    env = {"VIGIE_HUB_URL": hub.url, "VIGIE_TOKEN": hub.token_for("ops", "operator")}
    gates = tmp_path / "gates.toml"
    gates.write_text("[ml]\nmin_agreement = 2\n")
    result = CliRunner().invoke(cli, ["rollout", "start", "pump", "1.0.0", "--gates", str(gates)], env=env)
    assert result.exit_code == 3 and "ml.min_agreement" in result.output
    result = CliRunner().invoke(cli, ["rollout", "start", "pump", "1.0.0"], env=env)
    assert result.exit_code == 4 and "not running" in result.output
    result = CliRunner().invoke(cli, ["rollout", "status", "r-nope"], env=env)
    assert result.exit_code == 1


def _untar(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

