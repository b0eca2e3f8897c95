"""Audit entries and their canonical bytes (the data of the Merkle leaves). Pure.

An entry is the canonical JSON (contracts.signing.canonical_json) of

    {"v": 1, "index": 17, "ts": "2025-01-01T12:00:00.001Z", "prev": "<base64 leaf hash of entry 16>",
     "type": "http.request", "actor": "alice", "role": "operator", "data": {...}}

`index` and `prev` (empty for entry 0) tie every entry to its place: a row moved, inserted or deleted no
longer matches its position, and an entry rewritten with a recomputed leaf hash breaks the `prev` link of
the next one. The leaf hash is RFC 6962's SHA-256(0x00 || canonical bytes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts._errors import SignatureError
from contracts.signing import canonical_json
from hub.audit import merkle
from hub.audit._errors import AuditError

ENTRY_VERSION = 1
_KEYS = frozenset({"v", "index", "ts", "prev", "type", "actor", "role", "data"})


class EntryError(AuditError):
    """Bytes that are not a canonical audit entry."""


_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def format_ts(ts_ms: int) -> str:
    """Epoch milliseconds as UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`: the one textual form in entries and checkpoints."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(text: object) -> int:
    """Epoch milliseconds of a `format_ts` string; anything else raises EntryError."""
    if not isinstance(text, str) or not _TS.fullmatch(text):
        raise EntryError(f"timestamp {text!r:.40} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
    try:
        parsed = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise EntryError(f"timestamp {text!r:.40} is not a valid date") from None
    return (parsed - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str = "value", size: int | None = None) -> bytes:
    """Strict standard base64; `size` checks the decoded length."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise EntryError(f"{what} is not base64") from None
    if size is not None and len(raw) != size:
        raise EntryError(f"{what} is {len(raw)} bytes, expected {size}")
    return raw


@dataclass(frozen=True, slots=True)
class AuditEntry:
    index: int
    ts_ms: int
    prev: bytes
    """Leaf hash of the previous entry; empty for entry 0."""
    type: str
    actor: str
    role: str
    data: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "v": ENTRY_VERSION,
            "index": self.index,
            "ts": format_ts(self.ts_ms),
            "prev": b64(self.prev),
            "type": self.type,
            "actor": self.actor,
            "role": self.role,
            "data": self.data,
        }

    def canonical(self) -> bytes:
        try:
            return canonical_json(self.document())
        except SignatureError as exc:
            raise EntryError(str(exc)) from None

    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.canonical())


def parse_entry(raw: bytes) -> AuditEntry:
    """The entry in `raw`; raise EntryError unless `raw` is exactly its canonical form."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise EntryError("entry is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _KEYS or doc["v"] != ENTRY_VERSION:
        raise EntryError("entry does not have the fields of a version 1 audit entry")
    index, prev = doc["index"], doc["prev"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise EntryError("entry index is not a natural number")
    if not all(isinstance(doc[k], str) for k in ("type", "actor", "role", "prev")) or not isinstance(
        doc["data"], dict
    ):
        raise EntryError("entry fields have the wrong types")
    if (index == 0) != (prev == ""):
        raise EntryError("only entry 0 has an empty prev hash")
    entry = AuditEntry(
        index=index,
        ts_ms=parse_ts(doc["ts"]),
        prev=unb64(prev, "prev", merkle.HASH_SIZE) if prev else b"",
        type=doc["type"],
        actor=doc["actor"],
        role=doc["role"],
        data=doc["data"],
    )
    if entry.canonical() != raw:
        raise EntryError("entry bytes are not canonical")
    return entry


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored row: what the database (or an export) says about entry `index`."""

    index: int
    ts_ms: int
    canonical: bytes
    leaf_hash: bytes

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditRow:
        raw = entry.canonical()
        return cls(entry.index, entry.ts_ms, raw, merkle.leaf_hash(raw))

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "tsMs": self.ts_ms,
            "canonical": b64(self.canonical),
            "leafHash": b64(self.leaf_hash),
        }

    @classmethod
    def from_json(cls, doc: Any) -> AuditRow:
        if not isinstance(doc, dict) or not all(isinstance(doc.get(k), int) for k in ("index", "tsMs")):
            raise EntryError("exported entry lacks an integer index or tsMs")
        return cls(
            index=doc["index"],
            ts_ms=doc["tsMs"],
            canonical=unb64(doc.get("canonical", ""), "canonical"),
            leaf_hash=unb64(doc.get("leafHash", ""), "leafHash"),
        )
