"""Fixtures for the TUF distribution tests: a fresh repository with one bundle, served over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import Signer  # type: ignore[attr-defined]

from contracts.signing import save_public_key
from hub.distribution import OnlineSigners, TufRepository
from tests.rollout._fleet import Trained, bundle_tar
from tests.rollout._tuf import RepoServer, online_signers, serve, signer


def _signer() -> Signer:
    return signer()


@dataclass
class RepoSetup:
    repo: TufRepository
    root_signers: list[Signer]
    targets_signers: list[Signer]
    online: OnlineSigners
    bundle: bytes

    def publish(self, tmp: Path, name: str, version: str, content: bytes) -> None:
        path = tmp / f"{name}-{version}.tar"
        path.write_bytes(content)
        self.repo.add_target(path, f"{name}/{version}.tar", {"name": name, "version": version})


@pytest.fixture
def tuf_repo(tmp_path: Path) -> RepoSetup:
    setup = RepoSetup(
        repo=TufRepository.create(
            tmp_path / "repo",
            root_signers=(roots := [_signer()]),
            targets_signers=(targets := [_signer()]),
            online=(online := online_signers()),
        ),
        root_signers=roots,
        targets_signers=targets,
        online=online,
        bundle=os.urandom(300_000),
    )
    setup.publish(tmp_path, "pump", "1.0.0", setup.bundle)
    return setup


@pytest.fixture
def server(tuf_repo: RepoSetup) -> Iterator[RepoServer]:
    with serve(tuf_repo.repo.path) as running:
        yield running


# --- registry and end-to-end fixtures --------------------------------------------------------------


@pytest.fixture(scope="session")
def trained() -> Trained:
    from model_export.train import TrainOptions, train_bundle

    result = train_bundle(None, simulate_rows=2000, options=TrainOptions(version="1.0.0", seed=5))
    return Trained(result.manifest, result.model_bytes)


@pytest.fixture(scope="session")
def release_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def release_pub(tmp_path_factory: pytest.TempPathFactory, release_key: Ed25519PrivateKey) -> Path:
    path = tmp_path_factory.mktemp("release") / "release.pub"
    save_public_key(release_key.public_key(), path)
    return path


@pytest.fixture(scope="session")
def bundle_tars(tmp_path_factory: pytest.TempPathFactory, trained: Trained, release_key: Ed25519PrivateKey
                ) -> dict[str, Path]:
    """`1.0.0`, `1.1.0` (good), `1.2.0` (over-alarming: threshold 0), `1.1.0-other` (1.1.0, other bytes)."""
    root = tmp_path_factory.mktemp("bundles")
    tars = {v: bundle_tar(root / "good", trained, v, release_key) for v in ("1.0.0", "1.1.0")}
    tars["1.2.0"] = bundle_tar(root / "bad", trained, "1.2.0", release_key, threshold=0.0)
    tars["1.1.0-other"] = bundle_tar(root / "other", trained, "1.1.0", release_key,
                                     threshold=trained.manifest.threshold.value * 2)
    return tars
