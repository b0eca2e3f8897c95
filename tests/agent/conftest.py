"""Fixtures of the agent tests: a trained model (once per session), release keys, a bundle directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.signing import save_public_key
from tests.agent.helpers import Trained, write_signed_bundle


@pytest.fixture(scope="session")
def trained() -> Trained:
    from model_export.train import TrainOptions, train_bundle

    result = train_bundle(None, simulate_rows=2000, options=TrainOptions(version="1.0.0", seed=3))
    return Trained(result.manifest, result.model_bytes)


@pytest.fixture(scope="session")
def release_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keys_dir(tmp_path: Path, release_key: Ed25519PrivateKey) -> Path:
    directory = tmp_path / "keys"
    directory.mkdir()
    save_public_key(release_key.public_key(), directory / "release.pub")
    return directory


@pytest.fixture
def bundles(tmp_path: Path, trained: Trained, release_key: Ed25519PrivateKey) -> Path:
    """A LocalDirFetcher root holding pump 1.0.0 and 1.1.0, validly signed."""
    root = tmp_path / "bundles"
    for version in ("1.0.0", "1.1.0"):
        write_signed_bundle(root, trained, version, release_key)
    return root
