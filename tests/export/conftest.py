"""Shared fixtures of the model-export tests: a release key pair and small signed bundles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.signing import generate_private_key

SKAB = Path(__file__).resolve().parents[2].parent / "shared/data/skab"


@dataclass(frozen=True)
class Keys:
    private: Ed25519PrivateKey
    public: Ed25519PublicKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    key = generate_private_key()
    return Keys(key, key.public_key())


class BundleFiles(dict[str, bytes]):
    """File name -> bytes, with a short repr (hypothesis prints fixture values on failure)."""

    def __repr__(self) -> str:
        return f"BundleFiles({sorted(self)})"


@pytest.fixture(scope="session")
def signed_bundle_bytes(keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The three files of a small signed PCA bundle trained on simulator rows (built once per session)."""
    from model_export.train import TrainOptions, train_bundle

    out = tmp_path_factory.mktemp("bundle") / "b"
    train_bundle(out, simulate_rows=800, options=TrainOptions(algorithm="pca", name="pump-a"), sign_key=keys.private)
    return BundleFiles({p.name: p.read_bytes() for p in out.iterdir()})


@pytest.fixture()
def bundle_dir(signed_bundle_bytes: dict[str, bytes], tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the signed bundle directory, free to tamper with."""
    out = tmp_path / "bundle"
    out.mkdir()
    for name, data in signed_bundle_bytes.items():
        (out / name).write_bytes(data)
    yield out
