"""The audit log in SQL: append entries, sign checkpoints, serve pages and proofs.

Tables `audit_entries` (idx, ts_ms, canonical, leaf_hash) and `audit_checkpoints` (size, root, ts_ms, keyid,
signed). Appends are serialised in-process by a lock and across processes by the primary key on `idx`
(a clash re-reads the head and retries). The current root is kept in a `CompactRange`, caught up from the
table when another process appended.

A checkpoint is signed when `every_entries` entries arrived since the last one, or by `tick()` (called by
a timer every `every_s` seconds) when anything arrived since; it is stored in SQL and published to every
witness. A failing witness is logged and does not stop the hub (the next checkpoint supersedes it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import BigInteger, Column, LargeBinary, Text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, col, func, select

from hub._errors import DatabaseError
from hub.audit import merkle
from hub.audit._errors import AuditError, ProofError, WitnessError
from hub.audit.checkpoints import Checkpoint, SignedCheckpoint, sign_checkpoint
from hub.audit.entries import AuditEntry, AuditRow, b64
from hub.audit.witness import Witness

log = logging.getLogger("hub.audit")


class AuditEntryRecord(SQLModel, table=True):
    __tablename__ = "audit_entries"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ts_ms: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    canonical: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))


class AuditCheckpointRecord(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    root: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    ts_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    keyid: str = Field(max_length=64)
    signed: str = Field(sa_column=Column(Text, nullable=False))
    """The signed checkpoint, canonical JSON."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _blob(value: object) -> bytes:
    """Bytes of a BLOB column, whatever a tampered database returns (SQLite lets a row hold TEXT there)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return b""


def _row(record: AuditEntryRecord) -> AuditRow:
    return AuditRow(int(record.idx), int(record.ts_ms), _blob(record.canonical), _blob(record.leaf_hash))


class AuditLog:
    def __init__(
        self,
        engine: Engine,
        *,
        origin: str,
        signer: Ed25519PrivateKey | None = None,
        witnesses: Sequence[Witness] = (),
        every_entries: int = 256,
        every_s: float = 60.0,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.engine = engine
        self.origin = origin
        self.signer = signer
        self.witnesses = list(witnesses)
        self.every_entries = every_entries
        self.every_s = every_s
        self._clock_ms = clock_ms
        self._lock = threading.RLock()
        self._compact: merkle.CompactRange | None = None
        self._last_signed_size: int | None = None
        self._timer: threading.Thread | None = None
        self._stop = threading.Event()

    # -- writing -------------------------------------------------------------------------------------

    def append(self, type: str, actor: str, role: str, data: dict[str, Any]) -> AuditRow:
        """Add one entry; it is durable when this returns. May sign a checkpoint (every N entries)."""
        with self._lock:
            row = self._insert(type, actor, role, data)
            compact = self._synced_compact()
            due = self.signer is not None and compact.size - self._signed_size() >= self.every_entries
        if due:
            self.checkpoint()
        return row

    def _insert(self, type: str, actor: str, role: str, data: dict[str, Any]) -> AuditRow:
        for _attempt in range(20):
            try:
                with Session(self.engine) as session:
                    head = session.exec(
                        select(AuditEntryRecord).order_by(col(AuditEntryRecord.idx).desc()).limit(1)
                    ).first()
                    index = head.idx + 1 if head is not None else 0
                    prev = _blob(head.leaf_hash) if head is not None else b""
                    row = AuditRow.of(AuditEntry(index, self._clock_ms(), prev, type, actor, role, data))
                    session.add(AuditEntryRecord(idx=row.index, ts_ms=row.ts_ms, canonical=row.canonical,
                                                 leaf_hash=row.leaf_hash))
                    session.commit()
                    return row
            except IntegrityError:  # another process took this index: read the head again
                continue
            except SQLAlchemyError as exc:
                raise DatabaseError(f"cannot append to the audit log: {type_name(exc)}") from None
        raise DatabaseError("cannot append to the audit log: too much contention on the head")

    def checkpoint(self) -> SignedCheckpoint | None:
        """Sign, store and publish a checkpoint of the current tree if it grew since the last one."""
        if self.signer is None:
            return None
        with self._lock:
            compact = self._synced_compact()
            if compact.size == 0 or compact.size == self._signed_size():
                return None
            cp = Checkpoint(self.origin, compact.size, compact.root(), self._clock_ms())
            signed = sign_checkpoint(self.signer, cp)
            with self._session() as session:
                session.add(AuditCheckpointRecord(size=cp.size, root=cp.root, ts_ms=cp.timestamp_ms,
                                                  keyid=signed.keyid, signed=signed.to_bytes().decode()))
                session.commit()
            self._last_signed_size = cp.size
        self._publish(signed)
        return signed

    def _publish(self, signed: SignedCheckpoint) -> None:
        for witness in self.witnesses:
            try:
                witness.publish(signed)
            except WitnessError as exc:
                log.warning("audit witness failed", extra={"witness": witness.name, "error": str(exc)})

    def tick(self) -> SignedCheckpoint | None:
        """Timer hook: sign a checkpoint if entries arrived since the last one."""
        return self.checkpoint()

    def start(self) -> None:
        """Run `tick` every `every_s` seconds in a daemon thread until `stop`."""
        if self._timer is not None or self.signer is None:
            return
        self._stop.clear()
        self._timer = threading.Thread(target=self._run_timer, name="vigie-audit-checkpoints", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        """Stop the timer and sign a final checkpoint so that no entry is left unsigned."""
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=10)
            self._timer = None
        try:
            self.checkpoint()
        except AuditError as exc:
            log.warning("final audit checkpoint failed", extra={"error": str(exc)})

    def _run_timer(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.tick()
            except (AuditError, DatabaseError) as exc:
                log.warning("audit checkpoint failed", extra={"error": str(exc)})

    # -- reading -------------------------------------------------------------------------------------

    def size(self) -> int:
        with self._session() as session:
            count = session.exec(select(func.max(AuditEntryRecord.idx))).one()
            return 0 if count is None else int(count) + 1

    def entries(self, start: int = 0, limit: int = 100) -> list[AuditRow]:
        with self._session() as session:
            records = session.exec(
                select(AuditEntryRecord)
                .where(col(AuditEntryRecord.idx) >= start)
                .order_by(col(AuditEntryRecord.idx))
                .limit(limit)
            )
            return [_row(r) for r in records]

    def iter_rows(self, batch: int = 5000) -> Iterator[AuditRow]:
        """Every row in index order, read in batches (for export and verification)."""
        start = 0
        while True:
            with self._session() as session:
                records = list(session.exec(
                    select(AuditEntryRecord).where(col(AuditEntryRecord.idx) >= start)
                    .order_by(col(AuditEntryRecord.idx)).limit(batch)
                ))
            yield from (_row(r) for r in records)
            if len(records) < batch:
                return
            start = records[-1].idx + 1

    def checkpoints(self) -> list[SignedCheckpoint]:
        with self._session() as session:
            records = session.exec(select(AuditCheckpointRecord).order_by(col(AuditCheckpointRecord.id)))
            return [SignedCheckpoint.from_bytes(r.signed.encode()) for r in records]

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._session() as session:
            record = session.exec(
                select(AuditCheckpointRecord)
                .order_by(col(AuditCheckpointRecord.size).desc(), col(AuditCheckpointRecord.id).desc())
                .limit(1)
            ).first()
            return SignedCheckpoint.from_bytes(record.signed.encode()) if record is not None else None

    def leaf_hashes(self, size: int) -> list[bytes]:
        with self._session() as session:
            hashes = [_blob(h) for h in session.exec(
                select(AuditEntryRecord.leaf_hash).where(col(AuditEntryRecord.idx) < size)
                .order_by(col(AuditEntryRecord.idx))
            )]
        if len(hashes) != size:
            raise ProofError(f"the log has {len(hashes)} entries, not {size}")
        return hashes

    def inclusion(self, index: int, size: int) -> dict[str, Any]:
        """An inclusion proof in the JSON shape of the merkle-vectors (base64 hashes)."""
        if not 0 <= index < size:
            raise ProofError(f"entry {index} is not in a tree of size {size}")
        hashes = self.leaf_hashes(size)
        return {
            "leafIdx": index,
            "treeSize": size,
            "root": b64(merkle.root_hash(hashes)),
            "leafHash": b64(hashes[index]),
            "proof": [b64(p) for p in merkle.inclusion_proof(hashes, index)],
        }

    def consistency(self, size1: int, size2: int) -> dict[str, Any]:
        if not 0 < size1 <= size2:
            raise ProofError(f"no consistency proof from size {size1} to size {size2}")
        hashes = self.leaf_hashes(size2)
        return {
            "size1": size1,
            "size2": size2,
            "root1": b64(merkle.root_hash(hashes[:size1])),
            "root2": b64(merkle.root_hash(hashes)),
            "proof": [b64(p) for p in merkle.consistency_proof(hashes, size1)],
        }

    # -- internals -----------------------------------------------------------------------------------

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _synced_compact(self) -> merkle.CompactRange:
        """The compact range caught up with the table (reads only the rows it has not seen)."""
        compact = self._compact or merkle.CompactRange()
        with self._session() as session:
            for leaf in session.exec(
                select(AuditEntryRecord.leaf_hash).where(col(AuditEntryRecord.idx) >= compact.size)
                .order_by(col(AuditEntryRecord.idx))
            ):
                compact.append(_blob(leaf))
        self._compact = compact
        return compact

    def _signed_size(self) -> int:
        if self._last_signed_size is None:
            with self._session() as session:
                biggest = session.exec(select(func.max(AuditCheckpointRecord.size))).one()
            self._last_signed_size = int(biggest or 0)
        return self._last_signed_size


def type_name(exc: BaseException) -> str:
    return type(exc).__name__
