"""One thread per equipment: reads its source at its pace and queues samples for the scorer.

A failing source (SourceError or any exception from a source) marks only that equipment unavailable;
it is retried with a backoff and marked available again on the next good read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_agent.backoff import Backoff
from edge_agent.config import EquipmentSpec
from edge_agent.sources.base import Sample, Source

log = logging.getLogger("vigie.agent.source")
MAX_LAG_S = 1.0
"""A source more than this behind its schedule (a long stall) skips ahead instead of bursting."""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """An equipment became (un)available; `reason` says why."""

    equipment: str
    available: bool
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class SourceFinished:
    """A finite source is exhausted (or reached max_readings)."""

    equipment: str
    produced: int


Item = Sample | SourceStatus | SourceFinished


class SourceRunner:
    def __init__(
        self,
        spec: EquipmentSpec,
        factory: Callable[[], Source],
        sink: Callable[[Item], None],
        stop: threading.Event,
    ) -> None:
        self.spec = spec
        self.produced = 0
        self.errors = 0
        self.available = True
        self._factory = factory
        self._sink = sink
        self._stop = stop
        self._source: Source | None = None
        self._backoff = Backoff(max(1, min(spec.sample_period_ms, 1000)), 30_000)
        self._thread = threading.Thread(target=self._run, name=f"source-{spec.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                wait = next_due - time.monotonic()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
                delay = self._step()
                if delay is None:
                    break
                next_due = max(next_due + delay, time.monotonic() - MAX_LAG_S)
        finally:
            self._close()
        self._sink(SourceFinished(self.spec.id, self.produced))

    def _step(self) -> float | None:
        """One read; the delay (s) until the next one, or None when the source is done."""
        try:
            if self._source is None:
                self._source = self._factory()
            sample = self._source.read()
        except Exception as exc:  # any source failure only affects this equipment
            return self._failed(exc)
        if not self.available:
            self._mark(True, "recovered")
            self._backoff.reset()
        if sample is None:
            return None
        self._sink(sample)
        self.produced += 1
        if self.spec.max_readings is not None and self.produced >= self.spec.max_readings:
            return None
        return self._source.delay_ms() / 1000

    def _failed(self, exc: Exception) -> float:
        self.errors += 1
        reason = f"{type(exc).__name__}: {exc}"[:300]
        if self.available:
            log.warning("source unavailable", extra={"equipment": self.spec.id, "reason": reason})
            self._mark(False, reason)
        return self._backoff.next_ms() / 1000

    def _mark(self, available: bool, reason: str) -> None:
        self.available = available
        self._sink(SourceStatus(self.spec.id, available, reason, int(time.time() * 1000)))

    def _close(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except Exception:  # closing a broken source must not hide the original problem
                log.debug("source close failed", exc_info=True)
