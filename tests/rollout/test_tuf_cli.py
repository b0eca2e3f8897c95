"""`vigie hub tuf`: key ceremonies on a real repository, checked by a real TUF client (the agent's fetcher).

After each rotation an agent pinned to the very first root still downloads bundles (it chains the roots);
a retired key can no longer sign anything agents accept; a wrong offline key changes nothing.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected
from hub.cli import hub
from hub.distribution import OnlineSigners, TufRepository
from hub.distribution.keys import load_signer
from tests.rollout._tuf import attacker_timestamp, make_fetcher, serve


@dataclass(frozen=True)
class Ceremony:
    tmp: Path
    repo: Path
    keys: Path
    offline: Path

    def run(self, *args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(hub, ["tuf", *args, "--repo", str(self.repo), "--keys-dir", str(self.keys)])
        assert (result.exit_code == 0) == ok, result.output
        return result

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").output)

    def publish(self, version: str) -> bytes:
        content = os.urandom(50_000)
        source = self.tmp / f"pump-{version}.tar"
        source.write_bytes(content)
        repo = TufRepository(self.repo, OnlineSigners.from_dir(self.keys))
        repo.add_target(source, f"pump/{version}.tar", {"name": "pump", "version": version})
        return content

    def fetch(self, version: str, agent: str = "agent") -> bytes:
        """Download through an agent pinned to root version 1 (its cache kept between calls)."""
        first_root = (self.repo / "metadata" / "1.root.json").read_bytes()
        with serve(self.repo) as server:
            fetcher = make_fetcher(server.base, first_root, self.tmp / agent)
            staged = fetcher.fetch(ModelRef(name="pump", version=version), self.tmp / "staging" / agent / version)
            return staged.read_bytes()


@pytest.fixture
def ceremony(tmp_path: Path) -> Ceremony:
    c = Ceremony(tmp_path, tmp_path / "repo", tmp_path / "keys", tmp_path / "usb")
    c.run("init", "--offline-dir", str(c.offline))
    return c


def test_init_writes_online_and_offline_keys_apart_and_agents_can_fetch(ceremony: Ceremony) -> None:
    assert sorted(p.name for p in ceremony.offline.iterdir()) == ["root.pem", "targets.pem"]
    assert sorted(p.name for p in ceremony.keys.iterdir() if p.suffix == ".pem") == [
        "bundles.pem", "snapshot.pem", "timestamp.pem"]
    for key in [*ceremony.offline.iterdir(), *ceremony.keys.glob("*.pem")]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    content = ceremony.publish("1.0.0")
    assert ceremony.fetch("1.0.0") == content
    status = ceremony.status()
    assert status["targets"] == 1 and status["roles"]["root"]["version"] == 1
    assert ceremony.run("init", "--offline-dir", str(ceremony.tmp / "again"), ok=False).exit_code == 1


def test_rotating_the_timestamp_key_retires_the_old_one(ceremony: Ceremony) -> None:
    ceremony.publish("1.0.0")
    ceremony.fetch("1.0.0")
    old_key = load_signer(ceremony.keys / "timestamp.pem")
    before = ceremony.status()["roles"]["timestamp"]["keyids"]
    result = ceremony.run("rotate", "timestamp", "--root-key", str(ceremony.offline / "root.pem"))
    assert "restart the hub" in result.output
    after = ceremony.status()
    assert after["roles"]["root"]["version"] == 2 and after["roles"]["timestamp"]["keyids"] != before
    assert len(list(ceremony.keys.glob("timestamp.pem.retired-*"))) == 1
    content = ceremony.publish("1.1.0")  # the hub, restarted, signs with the new key
    assert ceremony.fetch("1.1.0") == content
    # Whoever kept the retired key cannot feed agents a timestamp any more.
    current = (ceremony.repo / "metadata" / "timestamp.json").read_bytes()
    first_root = (ceremony.repo / "metadata" / "1.root.json").read_bytes()
    with serve(ceremony.repo) as server:
        server.overrides["/metadata/timestamp.json"] = attacker_timestamp(current, [old_key])
        fetcher = make_fetcher(server.base, first_root, ceremony.tmp / "agent")
        with pytest.raises(BundleRejected) as info:
            fetcher.fetch(ModelRef(name="pump", version="1.1.0"), ceremony.tmp / "attacked")
    assert info.value.reason == "untrusted" and info.value.detail.startswith("unsigned")


def test_a_wrong_offline_key_changes_nothing(ceremony: Ceremony) -> None:
    before = ceremony.status()
    key_bytes = (ceremony.keys / "timestamp.pem").read_bytes()
    result = ceremony.run("rotate", "timestamp", "--root-key", str(ceremony.offline / "targets.pem"), ok=False)
    assert "refused, nothing changed" in result.output
    result = ceremony.run("resign", "targets", "--targets-key", str(ceremony.offline / "root.pem"), ok=False)
    assert "refused, nothing changed" in result.output
    assert ceremony.status() == before
    assert (ceremony.keys / "timestamp.pem").read_bytes() == key_bytes
    assert sorted(p.name for p in ceremony.keys.iterdir() if "timestamp" in p.name) == ["timestamp.pem"]


def test_rotating_bundles_then_targets_then_root_keeps_every_agent_fetching(ceremony: Ceremony) -> None:
    usb = ceremony.offline
    ceremony.publish("1.0.0")
    ceremony.fetch("1.0.0", agent="early")  # an agent that saw root v1
    ceremony.run("rotate", "bundles", "--targets-key", str(usb / "targets.pem"))
    assert ceremony.fetch("1.0.0", agent="early")
    ceremony.run("rotate", "targets", "--root-key", str(usb / "root.pem"), "--new-key-out", str(usb / "t2.pem"))
    ceremony.run("rotate", "root", "--root-key", str(usb / "root.pem"), "--new-key-out", str(usb / "r2.pem"))
    assert ceremony.status()["roles"]["root"]["version"] == 3
    ceremony.run("resign", "root", "--root-key", str(usb / "root.pem"), ok=False)  # the old root key is out
    ceremony.run("resign", "targets", "--targets-key", str(usb / "targets.pem"), ok=False)  # so is this one
    ceremony.run("resign", "root", "--root-key", str(usb / "r2.pem"))
    ceremony.run("resign", "targets", "--targets-key", str(usb / "t2.pem"))
    content = ceremony.publish("1.1.0")
    assert ceremony.fetch("1.1.0", agent="early") == content
    assert ceremony.fetch("1.1.0", agent="provisioned-with-root-1") == content
    assert ceremony.status()["roles"]["root"]["version"] == 4


def test_offline_rotations_need_a_place_for_the_new_key(ceremony: Ceremony) -> None:
    result = ceremony.run("rotate", "root", "--root-key", str(ceremony.offline / "root.pem"), ok=False)
    assert "--new-key-out" in result.output
    result = ceremony.run("rotate", "timestamp", ok=False)
    assert "--root-key is required" in result.output
