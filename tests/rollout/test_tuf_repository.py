"""The hub's TUF repository (python-tuf Metadata API) and its static serving app."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from tuf.api.metadata import Metadata, Snapshot, Timestamp  # type: ignore[attr-defined]

from contracts.messages import ModelRef
from hub._errors import ConfigError, Conflict
from hub.distribution import OnlineSigners, TufRepository, bundle_target_path, generate_key_file, load_signer
from hub.distribution.app import distribution_app
from tests.rollout._tuf import make_fetcher, online_signers, signer
from tests.rollout.conftest import RepoSetup


def _versions(repo: TufRepository) -> tuple[int, int, int]:
    snapshot = repo.load("snapshot", Snapshot).signed
    timestamp = repo.load("timestamp", Timestamp).signed
    return snapshot.meta["bundles.json"].version, snapshot.version, timestamp.version


def test_layout_and_versions(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    repo = tuf_repo.repo
    names = {p.name for p in repo.metadata_dir.iterdir()}
    assert {"1.root.json", "1.targets.json", "2.bundles.json", "2.snapshot.json", "timestamp.json"} <= names
    assert _versions(repo) == (2, 2, 2)
    target = repo.targets()["pump/1.0.0.tar"]
    assert target.custom == {"name": "pump", "version": "1.0.0"}
    assert repo.target_file(target).read_bytes() == tuf_repo.bundle
    assert repo.target_file(target).name == f"{target.hashes['sha256']}.1.0.0.tar"
    assert bundle_target_path("pump", "1.0.0") == "pump/1.0.0.tar"


def test_republishing_same_bytes_is_a_noop_other_bytes_a_conflict(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    tuf_repo.publish(tmp_path, "pump", "1.0.0", tuf_repo.bundle)
    assert _versions(tuf_repo.repo) == (2, 2, 2)
    with pytest.raises(Conflict, match="other content"):
        tuf_repo.publish(tmp_path, "pump", "1.0.0", b"something else")
    for bad in ("../x.tar", "pump/1.0.0", "pump/sub/1.0.0.tar", "/pump/1.0.0.tar"):
        with pytest.raises(Conflict, match="invalid target path"):
            tuf_repo.repo.add_target(tmp_path / "pump-1.0.0.tar", bad)


def test_create_refuses_an_existing_repository_and_open_needs_one(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    with pytest.raises(Conflict):
        TufRepository.create(
            tuf_repo.repo.path, root_signers=[signer()], targets_signers=[signer()], online=online_signers()
        )
    with pytest.raises(ConfigError, match="no TUF repository"):
        TufRepository(tmp_path / "empty")
    with pytest.raises(ConfigError, match="threshold"):
        TufRepository.create(
            tmp_path / "r2", root_signers=[signer()], targets_signers=[signer()], online=online_signers(),
            thresholds={"root": 2},
        )


def test_publishing_needs_the_online_keys(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    offline_view = TufRepository(tuf_repo.repo.path)
    (tmp_path / "x.tar").write_bytes(b"x")
    with pytest.raises(ConfigError, match="online TUF keys"):
        offline_view.add_target(tmp_path / "x.tar", "pump/2.0.0.tar")


def test_refresh_resigns_what_is_half_expired(tuf_repo: RepoSetup) -> None:
    repo = tuf_repo.repo
    assert repo.refresh() == []
    later = datetime.now(UTC) + timedelta(hours=13)
    repo.clock = lambda: later
    assert repo.refresh() == ["timestamp"]
    assert _versions(repo) == (2, 2, 3)
    much_later = datetime.now(UTC) + timedelta(days=16)
    repo.clock = lambda: much_later
    assert repo.refresh() == ["bundles", "snapshot", "timestamp"]
    assert _versions(repo) == (3, 3, 4)


def test_root_rotation_needs_the_old_and_new_thresholds(tuf_repo: RepoSetup) -> None:
    repo = tuf_repo.repo
    new_root = signer()
    with pytest.raises(ConfigError, match="not enough valid signatures"):
        repo.replace_role_keys("root", [new_root.public_key], [new_root])  # the old root did not vouch
    with pytest.raises(ConfigError, match="not enough valid signatures"):
        repo.replace_role_keys("root", [new_root.public_key], tuf_repo.root_signers)  # no proof of possession
    assert not (repo.metadata_dir / "2.root.json").exists()


def test_bundles_key_rotation(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    old = tuf_repo.online
    new = OnlineSigners(timestamp=old.timestamp, snapshot=old.snapshot, bundles=(signer(),))
    tuf_repo.repo.replace_bundles_keys(new, tuf_repo.targets_signers)
    tuf_repo.publish(tmp_path, "pump", "1.1.0", b"v2")
    assert set(tuf_repo.repo.targets()) == {"pump/1.0.0.tar", "pump/1.1.0.tar"}


def test_key_files(tmp_path: Path) -> None:
    public = generate_key_file(tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert load_signer(tmp_path / "k.pem").public_key == public
    with pytest.raises(ConfigError, match="exists already"):
        generate_key_file(tmp_path / "k.pem")
    (tmp_path / "bad.pem").write_text("nope")
    with pytest.raises(ConfigError):
        load_signer(tmp_path / "bad.pem")
    online = OnlineSigners.generate(tmp_path / "online")
    assert OnlineSigners.from_dir(tmp_path / "online").timestamp[0].public_key == online.timestamp[0].public_key
    with pytest.raises(ConfigError, match="no timestamp key"):
        OnlineSigners.from_dir(tmp_path / "elsewhere")


@pytest.fixture
def hub_app_server(tuf_repo: RepoSetup) -> Iterator[str]:
    """The real serving app under uvicorn, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(distribution_app(tuf_repo.repo.path), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = threading.Event()
    for _ in range(200):
        if server.started:
            break
        deadline.wait(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_served_by_the_hub_app(tuf_repo: RepoSetup, hub_app_server: str, tmp_path: Path) -> None:
    fetcher = make_fetcher(hub_app_server, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    path = fetcher.fetch(ModelRef(name="pump", version="1.0.0"), tmp_path / "staging")
    assert path.read_bytes() == tuf_repo.bundle
    with httpx.Client(base_url=hub_app_server) as client:
        meta = client.get("/metadata/timestamp.json")
        assert meta.status_code == 200 and meta.headers["cache-control"] == "no-store"
        assert Metadata.from_bytes(meta.content).signed.type == "timestamp"
        assert client.get("/metadata/../targets/x").status_code == 404
        assert client.get("/metadata/%2e%2e/.lock").status_code == 404
        assert client.get("/nothing").status_code == 404
