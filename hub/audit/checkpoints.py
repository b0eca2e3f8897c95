"""Signed checkpoints (tree heads): origin, tree size, root hash, timestamp. Pure.

The body is canonical JSON with a schema tag (so a checkpoint signature can never be mistaken for a
model-manifest signature made with the same primitive), signed with Ed25519 in the envelope of
`contracts.signing`. Wire form:

    {"checkpoint": {"schema": "vigie.audit.checkpoint/1", "origin": "vigie-hub", "size": 42,
                    "root": "<base64>", "timestamp": "2025-01-01T12:00:00.000Z"},
     "signature": {"schema": "vigie.sig/1", "alg": "ed25519", "keyid": "<16 hex>", "sig": "<base64>"}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts._errors import SignatureError
from contracts.signing import canonical_json, sign_bytes, verify_bytes
from hub.audit import merkle
from hub.audit._errors import CheckpointError
from hub.audit.entries import EntryError, b64, format_ts, parse_ts, unb64

CHECKPOINT_SCHEMA = "vigie.audit.checkpoint/1"
_BODY_KEYS = frozenset({"schema", "origin", "size", "root", "timestamp"})


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    timestamp_ms: int

    def body(self) -> dict[str, Any]:
        return {
            "schema": CHECKPOINT_SCHEMA,
            "origin": self.origin,
            "size": self.size,
            "root": b64(self.root),
            "timestamp": format_ts(self.timestamp_ms),
        }


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint with its signature envelope, exactly as received (fields unchecked until `verify`)."""

    body: dict[str, Any]
    envelope: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint": self.body, "signature": self.envelope}

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def keyid(self) -> str:
        value = self.envelope.get("keyid")
        return value if isinstance(value, str) else ""

    @classmethod
    def from_json(cls, doc: Any) -> SignedCheckpoint:
        if not isinstance(doc, dict) or not isinstance(doc.get("checkpoint"), dict):
            raise CheckpointError("not a signed checkpoint: no 'checkpoint' object")
        if not isinstance(doc.get("signature"), dict):
            raise CheckpointError("not a signed checkpoint: no 'signature' object")
        return cls(body=doc["checkpoint"], envelope=doc["signature"])

    @classmethod
    def from_bytes(cls, raw: bytes) -> SignedCheckpoint:
        try:
            return cls.from_json(json.loads(raw))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError("signed checkpoint is not JSON") from None


def sign_checkpoint(key: Ed25519PrivateKey, checkpoint: Checkpoint) -> SignedCheckpoint:
    body = checkpoint.body()
    envelope = json.loads(sign_bytes(key, canonical_json(body)))
    return SignedCheckpoint(body=body, envelope=envelope)


def parse_body(body: dict[str, Any]) -> Checkpoint:
    """The checkpoint in a body; raise CheckpointError on any missing, extra or ill-typed field."""
    if set(body) != _BODY_KEYS or body.get("schema") != CHECKPOINT_SCHEMA:
        raise CheckpointError(f"checkpoint body is not a {CHECKPOINT_SCHEMA} document")
    origin, size = body["origin"], body["size"]
    if not isinstance(origin, str) or not origin:
        raise CheckpointError("checkpoint origin must be a non-empty string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CheckpointError("checkpoint size must be a natural number")
    try:
        root = unb64(body["root"], "checkpoint root", merkle.HASH_SIZE)
        timestamp_ms = parse_ts(body["timestamp"])
    except EntryError as exc:
        raise CheckpointError(str(exc)) from None
    return Checkpoint(origin=origin, size=size, root=root, timestamp_ms=timestamp_ms)


def verify_checkpoint(
    signed: SignedCheckpoint, trusted: Sequence[Ed25519PublicKey], origin: str | None = None
) -> Checkpoint:
    """The checkpoint if its signature is good and by a trusted key (and its origin is `origin`); else raise."""
    try:
        verify_bytes(list(trusted), canonical_json(signed.body), canonical_json(signed.envelope))
    except SignatureError as exc:
        raise CheckpointError(f"checkpoint signature refused: {exc}") from None
    checkpoint = parse_body(signed.body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r:.64} is not {origin!r}")
    return checkpoint


@dataclass(frozen=True, slots=True)
class Equivocation:
    """Two validly signed checkpoints of one origin and size with different roots: the log forked."""

    origin: str
    size: int
    roots: tuple[bytes, bytes]

    def __str__(self) -> str:
        return (
            f"equivocation: two signed checkpoints of {self.origin!r} at size {self.size} with different roots "
            f"({b64(self.roots[0])} and {b64(self.roots[1])})"
        )


def find_equivocations(checkpoints: Iterable[Checkpoint]) -> list[Equivocation]:
    seen: dict[tuple[str, int], bytes] = {}
    found: list[Equivocation] = []
    for cp in checkpoints:
        key = (cp.origin, cp.size)
        root = seen.setdefault(key, cp.root)
        if root != cp.root and all(e.roots != (root, cp.root) for e in found):
            found.append(Equivocation(cp.origin, cp.size, (root, cp.root)))
    return found
