"""One test per attack on bundle distribution, against a real loopback HTTP server serving the repository.

Every attack must end in `BundleRejected` with a reason that says what happened, and nothing in staging.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root  # type: ignore[attr-defined]

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected
from hub.distribution import OnlineSigners, TufRepository
from tests.rollout._tuf import RepoServer, attacker_timestamp, endless, make_fetcher, online_signers, serve, signer
from tests.rollout.conftest import RepoSetup

PUMP_1 = ModelRef(name="pump", version="1.0.0")
PUMP_2 = ModelRef(name="pump", version="1.1.0")


def _refused(fetcher, ref: ModelRef, staging: Path, reason: str, tag: str = "") -> BundleRejected:
    with pytest.raises(BundleRejected) as info:
        fetcher.fetch(ref, staging)
    assert info.value.reason == reason, info.value
    assert info.value.detail.startswith(tag), info.value.detail
    assert not staging.exists() or list(staging.iterdir()) == [], "nothing may be left in staging"
    return info.value


def test_genuine_fetch(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    path = fetcher.fetch(PUMP_1, tmp_path / "staging")
    assert path.read_bytes() == tuf_repo.bundle and path.parent == tmp_path / "staging"
    _refused(fetcher, PUMP_2, tmp_path / "staging2", "not_found")
    tuf_repo.publish(tmp_path, "pump", "1.1.0", b"v2" * 1000)
    assert fetcher.fetch(PUMP_2, tmp_path / "staging3").read_bytes() == b"v2" * 1000


def test_rollback_to_older_metadata(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    old_timestamp = (tuf_repo.repo.metadata_dir / "timestamp.json").read_bytes()
    tuf_repo.publish(tmp_path, "pump", "1.1.0", b"new")
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    fetcher.fetch(PUMP_2, tmp_path / "ok")  # the agent has now seen the newer timestamp
    server.overrides["/metadata/timestamp.json"] = old_timestamp  # validly signed, but older
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "rollback")


def test_freeze_expired_metadata(tmp_path: Path) -> None:
    three_days_ago = datetime.now(UTC) - timedelta(days=3)
    roots, online = [signer()], online_signers()
    repo = TufRepository.create(
        tmp_path / "repo", root_signers=roots, targets_signers=[signer()], online=online, clock=lambda: three_days_ago
    )
    (tmp_path / "b.tar").write_bytes(b"bundle")
    repo.add_target(tmp_path / "b.tar", "pump/1.0.0.tar")
    with serve(repo.path) as server:  # what an attacker (or a stuck hub) keeps serving: signed, but stale
        fetcher = make_fetcher(server.base, repo.root_bytes(1), tmp_path / "agent")
        _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "expired")
        repo.clock = lambda: datetime.now(UTC)
        assert repo.refresh() == ["timestamp"]  # the hub's periodic refresh heals it
        assert fetcher.fetch(PUMP_1, tmp_path / "staging").read_bytes() == b"bundle"


def test_bundle_hash_mismatch(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    target = tuf_repo.repo.targets()["pump/1.0.0.tar"]
    tampered = bytearray(tuf_repo.bundle)
    tampered[1000] ^= 0xFF
    server.overrides[f"/targets/pump/{target.hashes['sha256']}.1.0.0.tar"] = bytes(tampered)
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "mismatch")


def test_bundle_length_mismatch(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    target = tuf_repo.repo.targets()["pump/1.0.0.tar"]
    server.overrides[f"/targets/pump/{target.hashes['sha256']}.1.0.0.tar"] = tuf_repo.bundle[:-10]
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "mismatch")


@pytest.mark.parametrize("what", ["bundle", "timestamp"])
def test_endless_data(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path, what: str) -> None:
    target = tuf_repo.repo.targets()["pump/1.0.0.tar"]
    url = {"bundle": f"/targets/pump/{target.hashes['sha256']}.1.0.0.tar", "timestamp": "/metadata/timestamp.json"}
    prefix = tuf_repo.bundle if what == "bundle" else b""
    chunks = endless()  # 256 MiB of zeros after the genuine bytes: the client must hang up long before
    server.overrides[url[what]] = lambda: itertools.chain([prefix], chunks())
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "oversize")


def test_metadata_below_signature_threshold(tmp_path: Path) -> None:
    online = online_signers(timestamp=2)
    repo = TufRepository.create(
        tmp_path / "repo", root_signers=[signer()], targets_signers=[signer()], online=online,
        thresholds={"timestamp": 2},
    )
    with serve(repo.path) as server:
        fetcher = make_fetcher(server.base, repo.root_bytes(1), tmp_path / "agent")
        _refused(fetcher, PUMP_1, tmp_path / "genuine", "not_found")  # 2-of-2 signed metadata is accepted
        current = (repo.metadata_dir / "timestamp.json").read_bytes()
        stolen = [online.timestamp[0]]  # the attacker holds one of the two timestamp keys
        server.overrides["/metadata/timestamp.json"] = attacker_timestamp(current, stolen)
        _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "unsigned")


def test_revoked_key(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    old = tuf_repo.online
    new = OnlineSigners(timestamp=(signer(),), snapshot=old.snapshot, bundles=old.bundles)
    version = tuf_repo.repo.replace_role_keys(
        "timestamp", [new.timestamp[0].public_key], tuf_repo.root_signers, online=new
    )
    assert version == 2
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    assert fetcher.fetch(PUMP_1, tmp_path / "ok").read_bytes() == tuf_repo.bundle  # follows root v2
    current = (tuf_repo.repo.metadata_dir / "timestamp.json").read_bytes()
    server.overrides["/metadata/timestamp.json"] = attacker_timestamp(current, list(old.timestamp))
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "unsigned")
    fresh = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "fresh-agent")
    _refused(fresh, PUMP_1, tmp_path / "staging", "untrusted", "unsigned")  # pinned to v1, learns v2 first


def test_root_rotation_is_accepted(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    fetcher.fetch(PUMP_1, tmp_path / "before")
    new_root = signer()
    repo = tuf_repo.repo
    # v2: old key vouches for the new key, the new key proves possession
    assert repo.replace_role_keys("root", [new_root.public_key], [*tuf_repo.root_signers, new_root]) == 2
    # v3: signed by the new key alone (the old root key is gone for good)
    assert repo.rotate_root(lambda root: None, [new_root]) == 3
    tuf_repo.publish(tmp_path, "pump", "1.1.0", b"after rotation")
    assert fetcher.fetch(PUMP_2, tmp_path / "after").read_bytes() == b"after rotation"
    trusted = Metadata[Root].from_bytes((tmp_path / "agent" / "cache" / "metadata" / "root.json").read_bytes())
    assert trusted.signed.version == 3
    fresh = make_fetcher(server.base, repo.root_bytes(1), tmp_path / "fresh")
    assert fresh.fetch(PUMP_2, tmp_path / "fresh-staging").read_bytes() == b"after rotation"


def test_root_rotation_not_signed_by_the_old_root_is_refused(
    tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path
) -> None:
    usurper = signer()
    forged: Metadata[Root] = Metadata.from_bytes(tuf_repo.repo.root_bytes(1))
    for keyid in list(forged.signed.roles["root"].keyids):
        forged.signed.revoke_key(keyid, "root")
    forged.signed.add_key(usurper.public_key, "root")
    forged.signed.version = 2
    forged.sign(usurper)
    server.overrides["/metadata/2.root.json"] = forged.to_bytes()
    fetcher = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    _refused(fetcher, PUMP_1, tmp_path / "staging", "untrusted", "unsigned")


def test_unreachable_hub_is_a_fetch_failure(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    with serve(tuf_repo.repo.path) as server:
        base = server.base
    fetcher = make_fetcher(base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    _refused(fetcher, PUMP_1, tmp_path / "staging", "fetch_failed")


def test_agent_config_section(tuf_repo: RepoSetup, server: RepoServer, tmp_path: Path) -> None:
    from edge_agent.config import TufSection
    from edge_agent.fetchers.tuf_fetcher import TufFetcher, tuf_settings

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "root.json").write_bytes(tuf_repo.repo.root_bytes(1))
    section = TufSection.model_validate({"url": f"{server.base}/", "trusted_root": "root.json"})
    resolved = section.resolved(tmp_path / "conf")
    assert resolved.trusted_root == tmp_path / "conf" / "root.json" and resolved.ca is None
    fetcher = TufFetcher(tuf_settings(resolved, tmp_path / "state" / "tuf"))
    assert fetcher.fetch(PUMP_1, tmp_path / "staging").read_bytes() == tuf_repo.bundle
    with pytest.raises(ValueError, match="url"):
        TufSection.model_validate({"url": "ftp://x", "trusted_root": "root.json"})
