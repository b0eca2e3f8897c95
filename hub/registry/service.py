"""Publishing, listing and deprecating model versions.

`publish` trusts nothing: the bundle must verify against the pinned release keys (signature, canonical
manifest, model digest and size, layout), its version is a semantic version (the manifest schema), and a
version is immutable: the same name and version with other bytes is refused, the same bytes are a no-op.
The bundle is repacked into a canonical .tar (so re-tarring the same files is the same bytes), stored as
a TUF target `<name>/<version>.tar`, and then recorded in SQL.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from contracts._errors import ContractError
from contracts.manifest import MANIFEST_FILE, MODEL_FILE, SIGNATURE_FILE
from edge_agent.policy import semver_key
from hub._errors import ConfigError, Conflict, DatabaseError, NotFound
from hub.db.engine import session_scope
from hub.distribution.repository import TufRepository, bundle_target_path
from hub.registry._errors import InvalidBundle
from hub.registry.models import ModelVersionRecord
from hub.registry.settings import RegistrySettings
from model_export._errors import BundleError
from model_export.bundle import VerifiedBundle, load_public_keys, pack_tar_bytes, verify_bundle


class ModelVersion(BaseModel):
    """A published version as the API shows it."""

    name: str
    version: str
    bundle_sha256: str
    bundle_size: int
    model_sha256: str
    signer_keyid: str
    target_path: str
    algorithm: str
    threshold: float
    created_at: str
    published_at_ms: int
    published_by: str
    deprecated: bool
    deprecated_reason: str
    deprecated_at_ms: int | None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_model_version(record: ModelVersionRecord) -> ModelVersion:
    manifest = record.manifest
    return ModelVersion(
        **record.model_dump(exclude={"manifest"}),
        algorithm=str(manifest.get("algorithm", "")),
        threshold=float(manifest.get("threshold", {}).get("value", 0.0)),
        created_at=str(manifest.get("created_at", "")),
    )


def release_keys_from(settings: RegistrySettings) -> list[Ed25519PublicKey]:
    try:
        return load_public_keys(settings.release_keys)
    except ContractError as exc:
        raise ConfigError("registry.release_keys", str(exc)) from None


class Registry:
    def __init__(
        self,
        engine: Engine,
        repo: TufRepository,
        release_keys: Sequence[Ed25519PublicKey],
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.engine = engine
        self.repo = repo
        self.release_keys = list(release_keys)
        self.clock_ms = clock_ms

    def publish(self, bundle: Path, actor: str) -> tuple[ModelVersion, bool]:
        """Verify and publish; returns the version and whether it is new (False: same bytes already there)."""
        verified = self._verify(bundle)
        files = {MODEL_FILE: verified.model_bytes, MANIFEST_FILE: verified.manifest_bytes}
        tar = pack_tar_bytes({**files, SIGNATURE_FILE: verified.signature})
        digest = hashlib.sha256(tar).hexdigest()
        name, version = verified.manifest.name, verified.manifest.version
        existing = self._find(name, version)
        if existing is not None:
            return _same_or_conflict(existing, digest), False
        self._store_target(tar, name, version, verified)
        record = ModelVersionRecord(
            name=name,
            version=version,
            bundle_sha256=digest,
            bundle_size=len(tar),
            model_sha256=verified.manifest.model_file.sha256,
            signer_keyid=verified.key_id,
            target_path=bundle_target_path(name, version),
            manifest=verified.manifest.model_dump(mode="json", by_alias=True),
            published_at_ms=self.clock_ms(),
            published_by=actor[:64],
        )
        try:
            with session_scope(self.engine) as session:
                session.add(record)
        except DatabaseError:  # another hub replica recorded it between our check and our insert
            again = self._find(name, version)
            if again is None:
                raise
            return _same_or_conflict(again, digest), False
        return to_model_version(record), True

    def _verify(self, bundle: Path) -> VerifiedBundle:
        if not self.release_keys:
            raise ConfigError("registry.release_keys", "no release key is pinned: the hub cannot verify bundles")
        try:
            return verify_bundle(bundle, self.release_keys)
        except BundleError as exc:
            raise InvalidBundle(str(exc)) from None

    def _store_target(self, tar: bytes, name: str, version: str, verified: VerifiedBundle) -> None:
        incoming = self.repo.path / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=incoming, suffix=".tar") as handle:
            handle.write(tar)
            handle.flush()
            custom = {"name": name, "version": version, "model_sha256": verified.manifest.model_file.sha256}
            self.repo.add_target(Path(handle.name), bundle_target_path(name, version), custom)

    def _find(self, name: str, version: str) -> ModelVersionRecord | None:
        with session_scope(self.engine) as session:
            return session.get(ModelVersionRecord, (name, version))

    def get(self, name: str, version: str) -> ModelVersionRecord:
        record = self._find(name, version)
        if record is None:
            raise NotFound(f"model {name} {version} is not published")
        return record

    def list(self, name: str | None = None) -> list[ModelVersion]:
        with session_scope(self.engine) as session:
            query = select(ModelVersionRecord)
            if name is not None:
                query = query.where(col(ModelVersionRecord.name) == name)
            records = list(session.exec(query).all())
        records.sort(key=lambda r: (r.name, semver_key(r.version)))
        return [to_model_version(r) for r in records]

    def deprecate(self, name: str, version: str, reason: str) -> ModelVersion:
        """Mark a version as not to be rolled out any more (it stays downloadable: agents may roll back to it)."""
        with session_scope(self.engine) as session:
            record = session.get(ModelVersionRecord, (name, version))
            if record is None:
                raise NotFound(f"model {name} {version} is not published")
            if not record.deprecated:
                record.deprecated = True
                record.deprecated_reason = reason[:1000]
                record.deprecated_at_ms = self.clock_ms()
                session.add(record)
            return to_model_version(record)

    def deployable(self, name: str, version: str) -> ModelVersion:
        """The version, if it may be rolled out; NotFound or Conflict (deprecated) otherwise."""
        version_out = to_model_version(self.get(name, version))
        if version_out.deprecated:
            raise Conflict(f"model {name} {version} is deprecated: {version_out.deprecated_reason}")
        return version_out


def _same_or_conflict(existing: ModelVersionRecord, digest: str) -> ModelVersion:
    if existing.bundle_sha256 != digest:
        raise Conflict(
            f"model {existing.name} {existing.version} is already published with other bytes; "
            "publish a new version instead"
        )
    return to_model_version(existing)
