"""Where the drift monitor finds the manifest (and so the reference histograms) of a model version.

`RegistryManifests` reads the hub registry's `model_versions` table (manifests verified at publication);
`DirectoryManifests` reads `<root>/<model>/<version>/manifest.json` (bundle directories an operator put
there, trusted as configuration); `ChainManifests` asks each in turn. Manifests are immutable per
(model, version), so hits are cached for good; misses are cached for `miss_ttl_s` so that a stream of
sketches for an unpublished version costs one lookup every few seconds, not one per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import Engine

from contracts._base import validate_as
from contracts._errors import ContractError
from contracts.manifest import MANIFEST_FILE, Manifest, parse_manifest

log = logging.getLogger("hub.drift")


class ManifestProvider(Protocol):
    def manifest(self, name: str, version: str) -> Manifest | None:
        """The manifest of `name` `version`, None if unknown. May raise DatabaseError (transient)."""


class _Cached:
    """Positive results kept for good, misses for `miss_ttl_s`."""

    def __init__(self, miss_ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[tuple[str, str], Manifest] = {}
        self._misses: dict[tuple[str, str], float] = {}
        self._ttl = miss_ttl_s
        self._clock = clock
        self._lock = threading.Lock()

    def manifest(self, name: str, version: str) -> Manifest | None:
        key = (name, version)
        with self._lock:
            hit = self._hits.get(key)
            missed = self._misses.get(key)
        if hit is not None:
            return hit
        if missed is not None and self._clock() - missed < self._ttl:
            return None
        found = self._load(name, version)
        with self._lock:
            if found is None:
                self._misses[key] = self._clock()
            else:
                self._hits[key] = found
                self._misses.pop(key, None)
        return found

    def _load(self, name: str, version: str) -> Manifest | None:
        raise NotImplementedError


class RegistryManifests(_Cached):
    def __init__(self, engine: Engine, miss_ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(miss_ttl_s, clock)
        self.engine = engine

    def _load(self, name: str, version: str) -> Manifest | None:
        from hub.db.engine import session_scope
        from hub.registry.models import ModelVersionRecord

        with session_scope(self.engine) as session:
            record = session.get(ModelVersionRecord, (name, version))
            document = None if record is None else record.manifest
        if document is None:
            return None
        try:
            return validate_as(Manifest, document)
        except ContractError as exc:
            log.error("registry manifest does not validate", extra={"model": name, "version": version,
                                                                    "error": str(exc)})
            return None


class DirectoryManifests(_Cached):
    def __init__(self, root: Path, miss_ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(miss_ttl_s, clock)
        self.root = root

    def _load(self, name: str, version: str) -> Manifest | None:
        if "/" in name or "/" in version or name.startswith(".") or version.startswith("."):
            return None  # wire identifiers cannot hold these; never leave the root
        path = self.root / name / version / MANIFEST_FILE
        try:
            manifest = parse_manifest(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ContractError) as exc:
            log.error("cannot read manifest", extra={"path": str(path), "error": str(exc)})
            return None
        if (manifest.name, manifest.version) != (name, version):
            log.error("manifest names another model", extra={"path": str(path)})
            return None
        return manifest


class ChainManifests:
    def __init__(self, *providers: ManifestProvider) -> None:
        self.providers = providers

    def manifest(self, name: str, version: str) -> Manifest | None:
        for provider in self.providers:
            found = provider.manifest(name, version)
            if found is not None:
                return found
        return None
