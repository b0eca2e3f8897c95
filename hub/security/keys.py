"""Ed25519 keys of the hub (JWT signing, audit checkpoints): loaded from a file or an environment variable.

Production has no default key: a missing key is a ConfigError naming the setting. In dev mode a key is made
once and kept in the data directory (0600) so that tokens and checkpoints survive restarts.
A `KeyRing` holds the signing key and older public keys still accepted, each known by its key id (`kid`,
`contracts.signing.key_id`), which is what makes rotation possible.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts._errors import SignatureError
from contracts.signing import generate_private_key, key_id, load_private_key, save_private_key
from hub._errors import ConfigError


def private_key_from_pem(pem: bytes, field: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(field, "not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(field, "the key is not Ed25519")
    return key


def load_private_key_file(path: Path, field: str, production: bool) -> Ed25519PrivateKey:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(field, f"cannot read {path}: {exc.strerror}") from None
    if production and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(field, f"{path} is readable by others: chmod 600 it")
    try:
        return load_private_key(path)
    except SignatureError as exc:
        raise ConfigError(field, str(exc)) from None


def resolve_private_key(
    *, field: str, pem: str, file: Path | None, production: bool, dev_path: Path
) -> Ed25519PrivateKey:
    """The key from `pem` (environment) or `file`; in dev mode, else the one kept at `dev_path`."""
    if pem and file is not None:
        raise ConfigError(field, "set the key either inline (environment) or as a file, not both")
    if pem:
        return private_key_from_pem(pem.encode(), field)
    if file is not None:
        return load_private_key_file(file, f"{field}_file", production)
    if production:
        raise ConfigError(f"{field}_file", "production needs an Ed25519 key (no default key outside dev mode)")
    if dev_path.exists():
        return load_private_key_file(dev_path, f"{field}_file", production=False)
    key = generate_private_key()
    save_private_key(key, dev_path)
    return key


def load_public_keys(paths: Iterable[Path], field: str) -> list[Ed25519PublicKey]:
    """Public keys from PEM files (public or private PEM: only the public half is kept)."""
    keys: list[Ed25519PublicKey] = []
    for path in paths:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(field, f"cannot read {path}: {exc.strerror}") from None
        keys.append(public_key_from_any_pem(pem, f"{field}: {path}"))
    return keys


def public_key_from_any_pem(pem: bytes, field: str) -> Ed25519PublicKey:
    if b"PRIVATE KEY" in pem:
        return private_key_from_pem(pem, field).public_key()
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise ConfigError(field, "not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(field, "the key is not Ed25519")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class KeyRing:
    """The signing key and every public key accepted, by key id."""

    def __init__(self, signing: Ed25519PrivateKey, accepted: Sequence[Ed25519PublicKey] = ()) -> None:
        self._signing = signing
        self.signing_kid = key_id(signing.public_key())
        self._public = {key_id(k): k for k in (signing.public_key(), *accepted)}

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return self._signing

    def public(self, kid: str) -> Ed25519PublicKey | None:
        return self._public.get(kid)

    @property
    def kids(self) -> list[str]:
        return sorted(self._public)

    def public_keys(self) -> list[Ed25519PublicKey]:
        return list(self._public.values())

    def __repr__(self) -> str:  # never the key material
        return f"KeyRing(signing={self.signing_kid}, accepted={self.kids})"
