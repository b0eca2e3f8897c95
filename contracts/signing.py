"""Canonical JSON bytes and Ed25519 signatures (over `cryptography`).

Canonical form: UTF-8 JSON, keys sorted, no insignificant whitespace, no NaN/Infinity. Python's float
repr is the shortest round-trip form, so the same document always gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts._errors import SignatureError
from contracts._files import write_atomic

SIGNATURE_SCHEMA = "vigie.sig/1"


def canonical_json(document: Any) -> bytes:
    """The canonical bytes of a JSON-compatible document."""
    try:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise SignatureError(f"document is not canonicalisable: {exc}") from exc
    return text.encode("utf-8")


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def key_id(public_key: Ed25519PublicKey) -> str:
    """Stable short id of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write a PEM private key readable by its owner only (0600)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomic(path, pem, mode=0o600)


def save_public_key(key: Ed25519PublicKey, path: Path) -> None:
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_atomic(path, pem, mode=0o644)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SignatureError(f"cannot read Ed25519 private key {path}: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        return public_key_from_pem(path.read_bytes())
    except OSError as exc:
        raise SignatureError(f"cannot read public key {path}: {exc.strerror}") from None


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"not a PEM public key: {type(exc).__name__}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError("public key is not Ed25519")
    return key


def sign_bytes(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """A detached signature envelope (JSON bytes) over `data`."""
    envelope = {
        "schema": SIGNATURE_SCHEMA,
        "alg": "ed25519",
        "keyid": key_id(key.public_key()),
        "sig": base64.b64encode(key.sign(data)).decode("ascii"),
    }
    return canonical_json(envelope)


def verify_bytes(trusted: list[Ed25519PublicKey], data: bytes, envelope: bytes) -> str:
    """Check a signature envelope over `data` against pinned keys; return the signer's key id."""
    keyid, signature = _parse_envelope(envelope)
    by_id = {key_id(k): k for k in trusted}
    key = by_id.get(keyid)
    if key is None:
        raise SignatureError(f"signed by unknown key {keyid[:32]!r}")
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise SignatureError(f"bad signature by key {keyid}") from None
    return keyid


def _parse_envelope(envelope: bytes) -> tuple[str, bytes]:
    try:
        doc = json.loads(envelope)
    except (ValueError, UnicodeDecodeError):
        raise SignatureError("signature file is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != SIGNATURE_SCHEMA or doc.get("alg") != "ed25519":
        raise SignatureError(f"signature file is not a {SIGNATURE_SCHEMA} ed25519 envelope")
    keyid, sig = doc.get("keyid"), doc.get("sig")
    if not isinstance(keyid, str) or not isinstance(sig, str):
        raise SignatureError("signature envelope lacks keyid or sig")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not base64") from None
    if len(raw) != 64:
        raise SignatureError("Ed25519 signature must be 64 bytes")
    return keyid, raw
