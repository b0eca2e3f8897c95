"""Ed25519 key files for the TUF repository, and `securesystemslib` signers over them.

Key files are PKCS#8 PEM, mode 0600 (the same format as the release key, see `contracts.signing`).
Online keys (timestamp, snapshot, bundles) live in the hub's key directory as `<role>.pem` (or
`<role>-<n>.pem` for a role with several keys); root and targets keys stay offline and are passed to the
few operations that need them (creation, rotation), from files on removable media.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# securesystemslib re-exports its signer classes without `as`, which strict mypy flags.
from securesystemslib.signer import CryptoSigner, Key, Signer, SSlibKey  # type: ignore[attr-defined]

from contracts._errors import SignatureError
from contracts.signing import generate_private_key, load_private_key, save_private_key
from hub._errors import ConfigError

BUNDLES = "bundles"
"""The delegated targets role that lists model bundles; its key is online so that publishing needs no
offline key (the release signature inside each bundle is what an offline key vouches for)."""

ONLINE_ROLES = ("timestamp", "snapshot", BUNDLES)
OFFLINE_ROLES = ("root", "targets")


def generate_key_file(path: Path) -> SSlibKey:
    """Create a new Ed25519 private key file (0600) and return its public key."""
    if path.exists():
        raise ConfigError(str(path), "key file exists already; refusing to overwrite a key")
    key = generate_private_key()
    save_private_key(key, path)
    return SSlibKey.from_crypto(key.public_key())


def load_signer(path: Path) -> CryptoSigner:
    """A signer over an Ed25519 private key file."""
    try:
        return CryptoSigner(load_private_key(path))
    except SignatureError as exc:
        raise ConfigError(str(path), str(exc)) from None


def public_keys(signers: Sequence[Signer]) -> list[Key]:
    return [signer.public_key for signer in signers]


def role_key_files(keys_dir: Path, role: str) -> list[Path]:
    single = keys_dir / f"{role}.pem"
    many = sorted(keys_dir.glob(f"{role}-*.pem"))
    return ([single] if single.is_file() else []) + many


@dataclass(frozen=True, slots=True)
class OnlineSigners:
    """Signers the hub holds to publish bundles and keep metadata fresh."""

    timestamp: tuple[Signer, ...]
    snapshot: tuple[Signer, ...]
    bundles: tuple[Signer, ...]

    def for_role(self, role: str) -> tuple[Signer, ...]:
        signers: tuple[Signer, ...] = getattr(self, role)
        return signers

    @classmethod
    def from_dir(cls, keys_dir: Path) -> OnlineSigners:
        """Load `<role>.pem` / `<role>-<n>.pem` for each online role from `keys_dir`."""
        loaded: dict[str, tuple[Signer, ...]] = {}
        for role in ONLINE_ROLES:
            files = role_key_files(keys_dir, role)
            if not files:
                raise ConfigError(str(keys_dir), f"no {role} key ({role}.pem)")
            loaded[role] = tuple(load_signer(f) for f in files)
        return cls(timestamp=loaded["timestamp"], snapshot=loaded["snapshot"], bundles=loaded[BUNDLES])

    @classmethod
    def generate(cls, keys_dir: Path) -> OnlineSigners:
        """Create one key per online role in `keys_dir` and load them."""
        for role in ONLINE_ROLES:
            generate_key_file(keys_dir / f"{role}.pem")
        return cls.from_dir(keys_dir)
