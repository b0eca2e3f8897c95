"""The ingest worker: batch -> classify -> write points -> SQL changes -> acknowledge, in that order.

Two threads: the decode stage (JSON, validation, points) prepares the next batch while the write stage
writes the previous one, so Python work overlaps the store's; batches are written and acked in order.

A message is acknowledged only after its points and its SQL rows (or its quarantine row) are committed,
so a crash anywhere before leaves it unacknowledged and the broker redelivers it. While the store or the
database is down the worker retries the same batch with exponential back-off; the broker stops sending
once `receive_maximum` messages are unacknowledged, so memory stays bounded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from contracts.limits import MAX_PAYLOAD_BYTES
from contracts.messages import ScoresBatch
from hub._errors import DatabaseError, StoreRejected, StoreUnavailable
from hub.ingest.pipeline import Accepted, Inbound, QuarantineEntry, Rejection, classify, quarantine_entry, sql_plan
from hub.ingest.registry import GatewayRegistry
from hub.ingest.sink import IngestDb
from hub.metrics import HubMetrics
from hub.series.base import Point, SeriesStore
from hub.settings import IngestSettings

log = logging.getLogger(__name__)
KINDS = frozenset({"scores", "events", "sketch", "state"})
BatchListener = Callable[[Sequence[Accepted]], None]


T = TypeVar("T")


@dataclass(slots=True)
class Prepared:
    """A classified batch on its way from the decode stage to the write stage."""

    batch: list[Inbound]
    accepted: list[Accepted] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)


class Acker(Protocol):
    def ack(self, message: Inbound) -> bool: ...


class Backoff:
    def __init__(self, initial_ms: int, max_ms: int) -> None:
        self._next = initial_ms / 1000
        self._max = max_ms / 1000

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self._max)
        return delay


class IngestWorker:
    def __init__(
        self,
        inbox: queue.Queue[Inbound],
        acker: Acker,
        store: SeriesStore,
        db: IngestDb,
        registry: GatewayRegistry,
        metrics: HubMetrics,
        settings: IngestSettings,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.inbox = inbox
        self.acker = acker
        self.store = store
        self.db = db
        self.registry = registry
        self.metrics = metrics
        self.settings = settings
        self.max_payload_bytes = max_payload_bytes
        self.listeners: list[BatchListener] = []
        """Called with the accepted messages of each committed batch (drift monitor, rollout gates...)."""
        self._decode_retry = threading.Event()
        self._write_retry = threading.Event()
        self._stop = threading.Event()
        self._prepared: queue.Queue[Prepared] = queue.Queue(maxsize=2)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._decode_loop, name="vigie-ingest-decode", daemon=True),
            threading.Thread(target=self._write_loop, name="vigie-ingest-write", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish (or abandon, unacknowledged) the current batches and stop."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)

    @property
    def retrying(self) -> bool:
        """True while a batch is being retried because the store or the database is down."""
        return self._decode_retry.is_set() or self._write_retry.is_set()

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    # -- stage 1: collect and classify (CPU: JSON + validation + points) --------------------------------
    def _decode_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._collect()
            if batch:
                prepared = self._retrying(partial(self._classify, batch), self._decode_retry)
                if prepared is None or not self._hand_over(prepared):
                    self.metrics.unacked.dec(len(batch))

    def _collect(self) -> list[Inbound]:
        try:
            batch = [self.inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.settings.batch_max_ms / 1000
        while len(batch) < self.settings.batch_max_messages:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _classify(self, batch: list[Inbound]) -> Prepared:
        prepared = Prepared(batch)
        for message in batch:
            result = classify(message, self.registry.lookup, self.max_payload_bytes)
            if isinstance(result, Rejection):
                prepared.quarantined.append(quarantine_entry(message, result, self.settings.excerpt_bytes))
            else:
                prepared.accepted.append(result)
        return prepared

    def _hand_over(self, prepared: Prepared) -> bool:
        while not self._stop.is_set():
            try:
                self._prepared.put(prepared, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    # -- stage 2: write, commit, acknowledge (I/O: the decoder runs meanwhile) ---------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            try:
                prepared = self._prepared.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._retrying(partial(self._commit, prepared), self._write_retry)
            finally:
                self.metrics.unacked.dec(len(prepared.batch))
        while not self._prepared.empty():  # abandoned: the broker redelivers them
            self.metrics.unacked.dec(len(self._prepared.get_nowait().batch))

    def _retrying(self, action: Callable[[], T], flag: threading.Event) -> T | None:
        """Run `action` until it succeeds (its result) or the worker stops (None); transient errors back off."""
        backoff = Backoff(self.settings.backoff_initial_ms, self.settings.backoff_max_ms)
        try:
            while not self._stop.is_set():
                try:
                    return action()
                except (StoreUnavailable, DatabaseError) as exc:
                    flag.set()
                    self._on_transient(exc, backoff.next())
                except Exception:  # a bug must not kill ingest; the batch stays unacknowledged and is retried
                    log.exception("unexpected ingest error; retrying the batch")
                    flag.set()
                    self._on_transient(None, backoff.next())
            return None
        finally:
            flag.clear()

    def _on_transient(self, exc: Exception | None, delay_s: float) -> None:
        error = type(exc).__name__ if exc else "internal"
        self.metrics.store_errors.labels(self.store.name, error).inc()
        log.warning("ingest batch not written, will retry", extra={"error": str(exc), "retry_in_s": delay_s})
        self._stop.wait(delay_s)

    def _commit(self, prepared: Prepared) -> None:
        if self.settings.test_only_write_delay_ms and self._stop.wait(self.settings.test_only_write_delay_ms / 1000):
            raise StoreUnavailable("stopping during the test-only write delay")
        accepted, refused = self._write(prepared.accepted)
        quarantined = prepared.quarantined + refused
        self.db.apply(sql_plan(accepted, quarantined))
        for message in prepared.batch:  # in receive order, as MQTT requires
            self.acker.ack(message)
        self._count(prepared.batch, accepted, quarantined)
        self._notify(accepted)

    def _write(self, accepted: list[Accepted]) -> tuple[list[Accepted], list[QuarantineEntry]]:
        """Write every point; if the store refuses the data, find and quarantine the refused messages."""
        try:
            self._timed_write([p for a in accepted for p in a.points])
            return accepted, []
        except StoreRejected as exc:
            log.warning("store refused a batch; writing message by message", extra={"error": str(exc)})
        kept: list[Accepted] = []
        refused: list[QuarantineEntry] = []
        for item in accepted:
            try:
                self._timed_write(item.points)
                kept.append(item)
            except StoreRejected as exc:
                rejection = Rejection("store_rejected", "", str(exc)[:1000])
                refused.append(quarantine_entry(item.inbound, rejection, self.settings.excerpt_bytes))
        return kept, refused

    def _timed_write(self, points: list[Point]) -> None:
        if not points:
            return
        started = time.perf_counter()
        self.store.write(points)
        self.metrics.store_write.labels(self.store.name).observe(time.perf_counter() - started)
        self.metrics.points.inc(len(points))

    def _count(self, batch: list[Inbound], accepted: list[Accepted], quarantined: list[QuarantineEntry]) -> None:
        self.metrics.batch_size.observe(len(batch))
        for item in accepted:
            kind = _kind(item.inbound.topic)
            self.metrics.messages.labels(kind, "stored").inc()
            if isinstance(item.message, ScoresBatch):
                self.metrics.readings.inc(len(item.message.readings))
        for entry in quarantined:
            self.metrics.messages.labels(_kind(entry.topic), "quarantined").inc()
            self.metrics.quarantined.labels(entry.code).inc()
            log.info(
                "message quarantined",
                extra={"topic": entry.topic, "reason_code": entry.code, "field": entry.field, "reason": entry.reason},
            )

    def _notify(self, accepted: list[Accepted]) -> None:
        for listener in self.listeners:
            try:
                listener(accepted)
            except Exception:
                log.exception("ingest listener failed")


def _kind(topic: str) -> str:
    kind = topic.rsplit("/", 1)[-1]
    return kind if kind in KINDS else "other"
