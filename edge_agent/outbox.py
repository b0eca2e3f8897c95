"""Durable outbox: one SQLite (WAL) row per MQTT message, deleted only after the broker's PUBACK.

- Entries keep insertion order (`id` is AUTOINCREMENT, never reused), so publishing by ascending id keeps
  the order per kind and per equipment across reconnects and restarts.
- `seq` is assigned per kind inside the insert transaction from a persisted counter, so it increases
  monotonically across restarts and the payload that carries it is written atomically with it.
- Bounded by `max_entries` and `max_bytes`. When full, `reject_new` refuses the new entry (OutboxFull)
  and `drop_oldest` deletes the oldest entries; both are counted persistently and reported.
- `synchronous=full` (default) fsyncs every commit: an entry survives kill -9 and power loss once
  `append` has returned. `normal` survives kill -9 but may lose the last commits on power loss.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge_agent._errors import OutboxError, OutboxFull

Strategy = Literal["reject_new", "drop_oldest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS seqs (kind TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


WILL_SEQ_GAP = 2**30
"""Room for the states of one connection between its first state and its last-will message."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    kind: str
    seq: int
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    bytes: int
    capacity: int
    max_bytes: int
    strategy: Strategy
    dropped: int
    rejected: int


class Outbox:
    """Thread-safe: the scorer appends while the transport reads and acknowledges."""

    def __init__(
        self,
        path: Path,
        max_entries: int,
        max_bytes: int,
        strategy: Strategy,
        synchronous: Literal["full", "normal"] = "full",
    ) -> None:
        self.path = path
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.strategy = strategy
        self._lock = threading.RLock()
        self._deferred = False
        self._appended = False
        self._listeners: list[Callable[[], None]] = []
        self._db = _open(path, synchronous)
        self._depth, self._bytes = self._measure()
        self._dropped = self._counter("dropped")
        self._rejected = self._counter("rejected")

    def append(self, kind: str, topic: str, build: Callable[[int], bytes]) -> Entry:
        """Insert one message; `build(seq)` makes its payload. Raises OutboxFull under reject_new.

        Durable when this returns, or inside `group()` when the group ends.
        """
        with self._lock:
            try:
                return self._append(kind, topic, build)
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox write failed: {exc}") from exc

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call `listener()` (from the writing thread; keep it cheap) each time new entries are committed.

        The transport uses it to wake its network thread instead of polling the outbox."""
        self._listeners.append(listener)

    def _committed(self) -> None:
        if self._appended:
            self._appended = False
            for listener in self._listeners:
                listener()

    @contextmanager
    def group(self) -> Iterator[None]:
        """Group commit: every `append` inside is committed (one fsync) when the block ends."""
        with self._lock:
            self._deferred = True
            try:
                yield
            finally:
                self._deferred = False
                try:
                    self._db.commit()
                except sqlite3.Error as exc:
                    self._rollback()
                    raise OutboxError(f"outbox commit failed: {exc}") from exc
                self._committed()

    def _commit(self) -> None:
        if not self._deferred:
            self._db.commit()
            self._committed()

    def _rollback(self) -> None:
        """Undo the open transaction and re-read the totals it may have changed."""
        self._db.rollback()
        self._appended = False
        self._depth, self._bytes = self._measure()
        self._dropped = self._counter("dropped")
        self._rejected = self._counter("rejected")

    def reserve_seq(self, kind: str) -> int:
        """Take the next `seq` of `kind` for a message that does not go through the outbox (up/state)."""
        with self._lock:
            try:
                row = self._db.execute("SELECT next FROM seqs WHERE kind = ?", (kind,)).fetchone()
                seq = int(row[0]) if row else 0
                self._db.execute("INSERT OR REPLACE INTO seqs (kind, next) VALUES (?, ?)", (kind, seq + 1))
                self._db.commit()
            except sqlite3.Error as exc:
                self._db.rollback()
                raise OutboxError(f"outbox seq update failed: {exc}") from exc
            return seq

    def reserve_will_seq(self, kind: str) -> int:
        """A `seq` for a last-will message: above every `kind` seq of this connection, below the next one's.

        The will is registered at connect time but published (by the broker) after everything this connection
        sends, so it takes `base + WILL_SEQ_GAP`; `base` starts above the previous will, so the first state of the
        next connection (or of a restarted agent) again outranks a will the broker may have published.
        """
        with self._lock:
            try:
                row = self._db.execute("SELECT next FROM seqs WHERE kind = ?", (kind,)).fetchone()
                will_row = self._db.execute("SELECT next FROM seqs WHERE kind = ?", (f"{kind}.will",)).fetchone()
                base = max(int(row[0]) if row else 0, int(will_row[0]) + 1 if will_row else 0)
                will = base + WILL_SEQ_GAP
                self._db.executemany("INSERT OR REPLACE INTO seqs (kind, next) VALUES (?, ?)",
                                     [(kind, base), (f"{kind}.will", will)])
                self._db.commit()
            except sqlite3.Error as exc:
                self._db.rollback()
                raise OutboxError(f"outbox seq update failed: {exc}") from exc
            return will

    def pending(self, after_id: int, limit: int) -> list[Entry]:
        """Up to `limit` entries with id > `after_id`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, seq, topic, payload FROM entries WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [Entry(int(r[0]), str(r[1]), int(r[2]), str(r[3]), bytes(r[4])) for r in rows]

    def ack(self, ids: Iterable[int]) -> int:
        """Delete acknowledged entries (ids already dropped are ignored); return how many were deleted."""
        keys = [(i,) for i in ids]
        if not keys:
            return 0
        with self._lock:
            try:
                return self._ack(keys)
            except sqlite3.Error as exc:
                self._db.rollback()
                raise OutboxError(f"outbox ack failed: {exc}") from exc

    def stats(self) -> OutboxStats:
        with self._lock:
            return OutboxStats(
                self._depth, self._bytes, self.max_entries, self.max_bytes, self.strategy, self._dropped, self._rejected
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _append(self, kind: str, topic: str, build: Callable[[int], bytes]) -> Entry:
        row = self._db.execute("SELECT next FROM seqs WHERE kind = ?", (kind,)).fetchone()
        seq = int(row[0]) if row else 0
        payload = build(seq)
        size = len(payload)
        if not self._make_room(size):
            self._rejected += 1
            self._set_counter("rejected", self._rejected)
            self._commit()
            raise OutboxFull(f"outbox full ({self._depth} entries, {self._bytes} bytes): new {kind} entry rejected")
        cursor = self._db.execute(
            "INSERT INTO entries (kind, seq, topic, payload) VALUES (?, ?, ?, ?)", (kind, seq, topic, payload)
        )
        self._db.execute("INSERT OR REPLACE INTO seqs (kind, next) VALUES (?, ?)", (kind, seq + 1))
        self._appended = True
        self._commit()
        self._depth += 1
        self._bytes += size
        return Entry(int(cursor.lastrowid or 0), kind, seq, topic, payload)

    def _make_room(self, size: int) -> bool:
        """Apply the strategy inside the open transaction; False when the entry must be rejected."""
        if size > self.max_bytes:
            return False
        if self._fits(size):
            return True
        if self.strategy == "reject_new":
            return False
        while not self._fits(size) and self._depth > 0:
            self._drop_oldest()
        self._set_counter("dropped", self._dropped)
        return True

    def _fits(self, size: int) -> bool:
        return self._depth + 1 <= self.max_entries and self._bytes + size <= self.max_bytes

    def _drop_oldest(self) -> None:
        row = self._db.execute("SELECT id, length(payload) FROM entries ORDER BY id LIMIT 1").fetchone()
        if row is None:
            self._depth, self._bytes = 0, 0
            return
        self._db.execute("DELETE FROM entries WHERE id = ?", (row[0],))
        self._depth -= 1
        self._bytes -= int(row[1])
        self._dropped += 1

    def _ack(self, keys: list[tuple[int]]) -> int:
        placeholders = ",".join("?" * len(keys))
        ids = [k[0] for k in keys]
        row = self._db.execute(
            f"SELECT count(*), coalesce(sum(length(payload)), 0) FROM entries WHERE id IN ({placeholders})",  # noqa: S608
            ids,
        ).fetchone()
        self._db.execute(f"DELETE FROM entries WHERE id IN ({placeholders})", ids)  # noqa: S608
        self._db.commit()
        self._depth -= int(row[0])
        self._bytes -= int(row[1])
        return int(row[0])

    def _measure(self) -> tuple[int, int]:
        row = self._db.execute("SELECT count(*), coalesce(sum(length(payload)), 0) FROM entries").fetchone()
        return int(row[0]), int(row[1])

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _set_counter(self, name: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))


def _open(path: Path, synchronous: str) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        db.executescript(_SCHEMA)
        db.commit()
    except (sqlite3.Error, OSError) as exc:
        raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
    return db
