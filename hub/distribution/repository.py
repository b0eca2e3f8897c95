"""A TUF repository of model bundles, built with python-tuf's Metadata API (`tuf.api.metadata`).

Roles (see docs/adr/0005-model-distribution.md):

    root       offline keys; trusts the keys of every top-level role
    targets    offline keys; lists no files, delegates `*/*` (every `<model>/<version>.tar`) to `bundles`
    bundles    online key (hub); lists the bundles, re-signed at each publish
    snapshot   online key (hub); versions of targets and bundles
    timestamp  online key (hub); version and hash of snapshot, short expiry, refreshed by the hub

Layout under the repository directory, served as static files (consistent snapshots):

    metadata/<N>.root.json  <N>.targets.json  <N>.bundles.json  <N>.snapshot.json  timestamp.json
    metadata/<role>.json    the latest version of each role (for the hub itself and for humans)
    targets/<model>/<sha256>.<version>.tar

Writes are atomic and ordered (targets roles, then snapshot, then timestamp last), so a client never sees
a timestamp that points at files not written yet. Mutations take an exclusive file lock.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

# python-tuf and securesystemslib re-export their public classes without `as`, which strict mypy
# (no implicit re-export) flags; the names and their types are the documented public API.
from securesystemslib.signer import Key, Signer  # type: ignore[attr-defined]
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (  # type: ignore[attr-defined]
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    T,
    TargetFile,
    Targets,
    Timestamp,
)

from contracts._files import write_atomic
from hub._errors import ConfigError, Conflict, NotFound
from hub.distribution.keys import BUNDLES, OnlineSigners, public_keys

Clock = Callable[[], datetime]

TARGET_PATH = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?/[0-9A-Za-z][0-9A-Za-z.+-]{0,63}\.tar$")
BUNDLE_PATTERN = "*/*"


def bundle_target_path(name: str, version: str) -> str:
    """The target path of a bundle: `<model>/<version>.tar`."""
    return f"{name}/{version}.tar"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Expiry(BaseModel):
    """How long each role's metadata stays valid after it is signed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: timedelta = timedelta(days=365)
    targets: timedelta = timedelta(days=365)
    bundles: timedelta = timedelta(days=30)
    snapshot: timedelta = timedelta(days=7)
    timestamp: timedelta = timedelta(days=1)

    def of(self, role: str) -> timedelta:
        value: timedelta = getattr(self, role)
        return value


class TufRepository:
    """The hub's repository: publish bundles and keep metadata fresh with the online keys."""

    def __init__(
        self, path: Path, online: OnlineSigners | None = None, *, expiry: Expiry | None = None, clock: Clock = _utcnow
    ) -> None:
        self.path = path
        self.online = online
        self.expiry = expiry or Expiry()
        self.clock = clock
        if not (self.metadata_dir / "root.json").is_file():
            raise ConfigError(str(path), "no TUF repository here (create one first)")

    @property
    def metadata_dir(self) -> Path:
        return self.path / "metadata"

    @property
    def targets_dir(self) -> Path:
        return self.path / "targets"

    # --- creation -----------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        root_signers: Sequence[Signer],
        targets_signers: Sequence[Signer],
        online: OnlineSigners,
        thresholds: Mapping[str, int] | None = None,
        expiry: Expiry | None = None,
        clock: Clock = _utcnow,
    ) -> TufRepository:
        """Write version 1 of every role. Root and targets signers are the offline keys (used here only)."""
        if (path / "metadata" / "root.json").exists():
            raise Conflict(f"a TUF repository exists already in {path}")
        expiry = expiry or Expiry()
        now = clock()
        limits = dict(thresholds or {})
        path.mkdir(parents=True, exist_ok=True)
        signers = {"root": root_signers, "targets": targets_signers, **{r: online.for_role(r) for r in _ONLINE}}
        root = Root(expires=now + expiry.root, consistent_snapshot=True)
        for role in ("root", "targets", "snapshot", "timestamp"):
            _set_role_keys(root, role, public_keys(signers[role]), limits.get(role, 1))
        targets = Targets(expires=now + expiry.targets)
        targets.delegations = _bundles_delegation(public_keys(online.bundles), limits.get(BUNDLES, 1))
        (path / "metadata").mkdir(parents=True, exist_ok=True)
        (path / "targets").mkdir(parents=True, exist_ok=True)
        _write_role(path / "metadata", "root", Metadata(root), root_signers)
        _write_role(path / "metadata", "targets", Metadata(targets), targets_signers)
        _write_role(path / "metadata", BUNDLES, Metadata(Targets(expires=now + expiry.bundles)), online.bundles)
        repo = cls(path, online, expiry=expiry, clock=clock)
        repo._publish_snapshot({"targets": 1, BUNDLES: 1}, first=True)
        return repo

    # --- reading ------------------------------------------------------------------------------------

    def root_bytes(self, version: int | None = None) -> bytes:
        """Signed root metadata (the latest, or a given version): what agents pin as their trust anchor."""
        name = "root.json" if version is None else f"{version}.root.json"
        try:
            return (self.metadata_dir / name).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no root version {version}") from None

    def load(self, role: str, kind: type[T]) -> Metadata[T]:
        """The latest metadata of `role`."""
        md: Metadata[T] = Metadata.from_bytes((self.metadata_dir / f"{role}.json").read_bytes())
        if not isinstance(md.signed, kind):
            raise ConfigError(str(self.metadata_dir / f"{role}.json"), f"is not {kind.__name__} metadata")
        return md

    def targets(self) -> dict[str, TargetFile]:
        """Every bundle published so far, by target path."""
        return dict(self.load(BUNDLES, Targets).signed.targets)

    def target_file(self, target: TargetFile) -> Path:
        """Where the content of `target` is stored (the path clients download with consistent snapshots)."""
        directory, _, base = target.path.rpartition("/")
        return self.targets_dir / directory / f"{target.hashes['sha256']}.{base}"

    # --- online operations --------------------------------------------------------------------------

    def add_target(self, source: Path, target_path: str, custom: Mapping[str, Any] | None = None) -> TargetFile:
        """Publish a bundle: store it, list it in `bundles`, then new snapshot and timestamp.

        Publishing the same bytes again is a no-op; other bytes under an existing path are refused.
        """
        if not TARGET_PATH.fullmatch(target_path):
            raise Conflict(f"invalid target path {target_path!r}: expected <model>/<version>.tar")
        target = TargetFile.from_file(target_path, str(source), ["sha256"])
        if custom:
            target.unrecognized_fields["custom"] = dict(custom)
        with self._locked():
            bundles = self.load(BUNDLES, Targets)
            existing = bundles.signed.targets.get(target_path)
            if existing is not None:
                if (existing.length, existing.hashes) == (target.length, target.hashes):
                    return existing
                raise Conflict(f"{target_path} is published already with other content")
            self._store(source, target)
            bundles.signed.targets[target_path] = target
            self._publish_role(BUNDLES, bundles, self._online(BUNDLES))
        return target

    def refresh(self) -> list[str]:
        """Re-sign online metadata that has used half its validity; return the roles re-signed.

        The hub calls this periodically: a repository that stops refreshing is detected by clients as
        expired (freeze protection), so the timestamp lifetime bounds how stale an agent can be kept.
        """
        with self._locked():
            now = self.clock()
            stale = [r for r in _ONLINE if self._half_expired(r, now)]
            if BUNDLES in stale:
                self._publish_role(BUNDLES, self.load(BUNDLES, Targets), self._online(BUNDLES))
                return [BUNDLES, "snapshot", "timestamp"]
            if "snapshot" in stale:
                self._publish_snapshot({})
                return ["snapshot", "timestamp"]
            if "timestamp" in stale:
                self._publish_timestamp()
                return ["timestamp"]
            return []

    # --- offline operations (root / targets keys) ---------------------------------------------------

    def rotate_root(
        self, change: Callable[[Root], None], signers: Sequence[Signer], online: OnlineSigners | None = None
    ) -> int:
        """Write root version N+1 after applying `change` (add/revoke keys, thresholds).

        `signers` must meet the root threshold of both the current root (it vouches for the new one) and
        the new root (its keys prove possession). Snapshot and timestamp are then re-signed with `online`
        (pass the new online signers when their keys changed). Returns the new root version.
        """
        with self._locked():
            current = self.load("root", Root)
            new: Metadata[Root] = Metadata.from_dict(copy.deepcopy(current.to_dict()))
            change(new.signed)
            _bump(new.signed, self.clock() + self.expiry.root)
            _sign(new, signers)
            _check_threshold(current.signed, Root.type, new)
            _check_threshold(new.signed, Root.type, new)
            if online is not None:
                self.online = online
            _write_role(self.metadata_dir, "root", new, None)
            self._publish_snapshot({})
        return new.signed.version

    def replace_role_keys(
        self,
        role: str,
        keys: Sequence[Key],
        root_signers: Sequence[Signer],
        threshold: int = 1,
        online: OnlineSigners | None = None,
    ) -> int:
        """Revoke every key of top-level `role` and trust `keys` instead (a root rotation)."""

        def change(root: Root) -> None:
            _set_role_keys(root, role, list(keys), threshold)

        return self.rotate_root(change, root_signers, online)

    def replace_bundles_keys(
        self, online: OnlineSigners, targets_signers: Sequence[Signer], threshold: int = 1
    ) -> None:
        """Delegate `bundles` to the keys of `online.bundles` (offline targets keys sign the new delegation)."""
        with self._locked():
            targets = self.load("targets", Targets)
            targets.signed.delegations = _bundles_delegation(public_keys(online.bundles), threshold)
            targets_version = self._write_targets(targets, targets_signers)
            self.online = online
            bundles = self.load(BUNDLES, Targets)
            versions = {"targets": targets_version, BUNDLES: self._write_bumped(BUNDLES, bundles, online.bundles)}
            self._publish_snapshot(versions)

    def resign_targets(self, targets_signers: Sequence[Signer]) -> None:
        """Re-sign top-level targets before it expires (yearly, with the offline targets keys)."""
        with self._locked():
            targets = self.load("targets", Targets)
            self._publish_snapshot({"targets": self._write_targets(targets, targets_signers)})

    def _write_targets(self, targets: Metadata[Targets], signers: Sequence[Signer]) -> int:
        """The next top-level targets, written only if `signers` meet root's targets threshold (offline keys:
        a wrong key file must change nothing, not publish metadata every agent would refuse)."""
        _bump(targets.signed, self.clock() + self.expiry.of("targets"))
        _sign(targets, signers)
        _check_threshold(self.load("root", Root).signed, "targets", targets)
        _write_role(self.metadata_dir, "targets", targets, None)
        return targets.signed.version

    # --- internals ----------------------------------------------------------------------------------

    def _online(self, role: str) -> tuple[Signer, ...]:
        if self.online is None:
            raise ConfigError("distribution.keys_dir", "the online TUF keys are not loaded")
        return self.online.for_role(role)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.path / ".lock").open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _store(self, source: Path, target: TargetFile) -> None:
        destination = self.target_file(target)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.partial")
        shutil.copyfile(source, partial)
        partial.replace(destination)

    def _write_bumped(self, role: str, md: Metadata[T], signers: Sequence[Signer], first: bool = False) -> int:
        """Sign and write the next version of `role` (version 1 as created when `first`)."""
        expires = self.clock() + self.expiry.of(role)
        if first:
            md.signed.expires = expires
        else:
            _bump(md.signed, expires)
        _write_role(self.metadata_dir, role, md, signers)
        return md.signed.version

    def _publish_role(self, role: str, md: Metadata[Targets], signers: Sequence[Signer]) -> None:
        self._publish_snapshot({role: self._write_bumped(role, md, signers)})

    def _publish_snapshot(self, versions: Mapping[str, int], first: bool = False) -> None:
        snapshot = Metadata(Snapshot()) if first else self.load("snapshot", Snapshot)
        for role, version in versions.items():
            snapshot.signed.meta[f"{role}.json"] = MetaFile(version)
        self._write_bumped("snapshot", snapshot, self._online("snapshot"), first)
        self._publish_timestamp(first)

    def _publish_timestamp(self, first: bool = False) -> None:
        snapshot = self.load("snapshot", Snapshot)
        raw = (self.metadata_dir / f"{snapshot.signed.version}.snapshot.json").read_bytes()
        meta = MetaFile(snapshot.signed.version, len(raw), {"sha256": hashlib.sha256(raw).hexdigest()})
        timestamp = Metadata(Timestamp()) if first else self.load("timestamp", Timestamp)
        timestamp.signed.snapshot_meta = meta
        self._write_bumped("timestamp", timestamp, self._online("timestamp"), first)

    def _half_expired(self, role: str, now: datetime) -> bool:
        md: Metadata[Any] = Metadata.from_bytes((self.metadata_dir / f"{role}.json").read_bytes())
        expires: datetime = md.signed.expires
        return expires - now < self.expiry.of(role) / 2


_ONLINE = ("timestamp", "snapshot", BUNDLES)


def _set_role_keys(root: Root, role: str, keys: Sequence[Key], threshold: int) -> None:
    if not 1 <= threshold <= len(keys):
        raise ConfigError(f"tuf.{role}", f"threshold {threshold} needs between 1 and {len(keys)} key(s)")
    for keyid in list(root.roles[role].keyids):
        root.revoke_key(keyid, role)
    for key in keys:
        root.add_key(key, role)
    root.roles[role].threshold = threshold


def _bundles_delegation(keys: Sequence[Key], threshold: int) -> Delegations:
    if not 1 <= threshold <= len(keys):
        raise ConfigError(f"tuf.{BUNDLES}", f"threshold {threshold} needs between 1 and {len(keys)} key(s)")
    role = DelegatedRole(BUNDLES, [k.keyid for k in keys], threshold, terminating=True, paths=[BUNDLE_PATTERN])
    return Delegations(keys={k.keyid: k for k in keys}, roles={BUNDLES: role})


def _bump(signed: Signed, expires: datetime) -> None:
    signed.version += 1
    signed.expires = expires


def _sign(md: Metadata[Any], signers: Sequence[Signer]) -> None:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)


def _check_threshold(delegator: Root, role: str, md: Metadata[Any]) -> None:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        raise ConfigError(f"tuf.{role}", f"not enough valid signatures: {exc}") from None


def _write_role(directory: Path, role: str, md: Metadata[Any], signers: Sequence[Signer] | None) -> None:
    """Sign (unless already signed) and write `<N>.<role>.json` and `<role>.json` (timestamp: only the latter)."""
    if signers is not None:
        _sign(md, signers)
    raw = md.to_bytes()
    if role != "timestamp":
        write_atomic(directory / f"{md.signed.version}.{role}.json", raw)
    write_atomic(directory / f"{role}.json", raw)
