"""Turns scored readings, events and sketches into outbox entries (one MQTT message each).

Applies the outbox strategy's outcome: a rejected entry is counted (by the outbox) and raises an
`outbox_pressure` event once per episode; nothing is ever dropped silently.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from contracts import topics
from contracts.limits import MAX_BATCH_EVENTS
from contracts.messages import ModelRef
from edge_agent import wire
from edge_agent._errors import OutboxError, OutboxFull
from edge_agent.outbox import Outbox
from edge_agent.sketch import WindowSketch

log = logging.getLogger("vigie.agent.publisher")


@dataclass
class PublishCounters:
    batches: int = 0
    readings: int = 0
    events: int = 0
    sketches: int = 0
    rejected_readings: int = 0
    write_errors: int = 0


class Publisher:
    def __init__(self, gateway: str, outbox: Outbox) -> None:
        self.gateway = gateway
        self.outbox = outbox
        self.counters = PublishCounters()
        self._topic = {kind: topics.up(gateway, kind) for kind in topics.UpKind}
        self._pressure = False
        self._last_dropped = outbox.stats().dropped
        self._episode = (0, 0)
        self._events: list[dict[str, Any]] = []

    def event(self, kind: str, ts: int | None = None, **fields: Any) -> None:
        """Queue an event; events go out together at the next `flush_events`."""
        document: dict[str, Any] = {"kind": kind, "ts": ts if ts is not None else int(time.time() * 1000)}
        document.update({k: v for k, v in fields.items() if v is not None})
        self._events.append(document)

    def events(self, documents: list[dict[str, Any]]) -> None:
        self._events.extend(documents)

    def scores(self, readings: list[dict[str, Any]]) -> None:
        if self._append("scores", wire.scores(self.gateway, readings), readings, self.scores):
            self.counters.batches += 1
            self.counters.readings += len(readings)

    def sketch(self, ref: ModelRef, window: WindowSketch) -> None:
        if self._append("sketch", wire.sketch(self.gateway, ref, window), None, None):
            self.counters.sketches += 1

    def flush_events(self) -> None:
        self.watch_pressure()
        while self._events:
            chunk, self._events = self._events[:MAX_BATCH_EVENTS], self._events[MAX_BATCH_EVENTS:]
            if self._append("events", wire.events(self.gateway, chunk), chunk, self._events_again):
                self.counters.events += len(chunk)

    def _events_again(self, chunk: list[dict[str, Any]]) -> None:
        if self._append("events", wire.events(self.gateway, chunk), chunk, self._events_again):
            self.counters.events += len(chunk)

    def _append(self, kind: str, build: wire.Builder, items: list[Any] | None, split: Any) -> bool:
        try:
            self.outbox.append(kind, self._topic[topics.UpKind(kind)], build)
        except wire.TooBig:
            if items is None or len(items) < 2 or split is None:
                log.error("single message over the payload limit; not sent", extra={"kind": kind})
                return False
            half = len(items) // 2
            split(items[:half])
            split(items[half:])
            return False
        except OutboxFull:
            self._pressure_event("rejected")
            if kind == "scores" and items is not None:
                self.counters.rejected_readings += len(items)
            return False
        except OutboxError:
            self.counters.write_errors += 1
            log.exception("outbox write failed")
            return False
        return True

    def watch_pressure(self) -> None:
        """Open a pressure episode when entries were dropped; close it (with an event) once half empty.

        Under drop_oldest the opening event may itself be dropped later and under reject_new it may be
        refused, so the closing event, written when there is room again, repeats the episode's totals.
        """
        stats = self.outbox.stats()
        if stats.dropped > self._last_dropped:
            self._pressure_event("dropped_oldest")
        if self._pressure and stats.depth <= self.outbox.max_entries // 2:
            self._pressure = False
            lost_dropped = stats.dropped - self._episode[0]
            lost_rejected = stats.rejected - self._episode[1]
            detail = f"outbox pressure over: {lost_dropped} entries dropped, {lost_rejected} rejected"
            log.warning("outbox pressure over", extra={"detail": detail})
            self.event("outbox_pressure", detail=detail)
        self._last_dropped = stats.dropped

    def _pressure_event(self, what: str) -> None:
        if self._pressure:
            return
        self._pressure = True
        stats = self.outbox.stats()
        self._episode = (self._last_dropped, stats.rejected - (1 if what == "rejected" else 0))
        detail = f"outbox full ({stats.depth}/{stats.capacity} entries, {stats.bytes} bytes): {what}"
        log.warning("outbox pressure", extra={"detail": detail})
        self.event("outbox_pressure", detail=detail)
