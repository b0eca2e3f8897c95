"""The agent: wires sources, scorer, outbox, transport, model manager and health server together.

Threads: one per equipment source, `pipeline` (scoring, batching, outbox writes, model swaps), `mqtt`
(network + outbox publishing), `updater` (desired state -> verify -> load), `health` (HTTP).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from contracts._errors import ContractError, PayloadError
from contracts.codec import decode_desired
from contracts.messages import DesiredState, EquipmentStatus, UpdateStatus
from edge_agent import memory
from edge_agent._errors import ConfigError, OutboxError
from edge_agent.batching import Batcher
from edge_agent.config import LoadedConfig
from edge_agent.fetcher import Fetcher, LocalDirFetcher, RetryingFetcher
from edge_agent.health import HealthServer, Metric
from edge_agent.models import ModelManager, ModelStore, SwapCommand, bundle_verifier
from edge_agent.outbox import Outbox
from edge_agent.percentiles import ModelLatencies, PercentileTracker
from edge_agent.publisher import Publisher
from edge_agent.runner import Item, SourceFinished, SourceRunner, SourceStatus
from edge_agent.scorer import Scorer, ScoreResult
from edge_agent.sources import build_source
from edge_agent.sources.base import Sample
from edge_agent.state import build_state, metrics_snapshot
from edge_agent.transport import MqttTransport
from model_export.bundle import load_public_keys

log = logging.getLogger("vigie.agent")
DRAIN_LIMIT = 50_000
"""Most queued samples scored in one pipeline iteration."""
IDLE_WAIT_S = 1.0
"""Longest sleep of the pipeline and updater threads: they are woken by what they wait for (readings, swaps,
a state to report, desired states, `stop()`), so this only bounds how late a missed wake-up could be noticed."""


class _Wake:
    """Queued to wake a sleeping thread (a state became dirty, or the agent stops)."""


WAKE = _Wake()


@dataclass
class Counts:
    readings_in: int = 0
    scored: int = 0
    shadow_scored: int = 0
    score_errors: int = 0
    malformed_desired: int = 0
    unscoreable: Tally[str] = field(default_factory=Tally)


class Agent:
    def __init__(self, loaded: LoadedConfig, fetcher: Fetcher | None = None) -> None:
        cfg = self.cfg = loaded.agent
        self.gateway = cfg.gateway.id
        self.started_ms = int(time.time() * 1000)
        self.counts = Counts()
        self.latency = PercentileTracker(4096)  # every pass, whatever the model: the state's `latency`
        self.model_latency = ModelLatencies(4096)  # per active model: `model_latency`, for the rollout gate
        self.equipment = {e.id: EquipmentStatus(equipment=e.id, available=True) for e in cfg.equipment}
        self.stop_event = threading.Event()
        self.inbox: queue.SimpleQueue[Item | SwapCommand | _Wake] = queue.SimpleQueue()
        self._desired: queue.SimpleQueue[DesiredState | _Wake] = queue.SimpleQueue()
        self._state_dirty = threading.Event()
        self._pipeline_alive = False
        self._sources_started = False
        o = cfg.outbox
        self.outbox = Outbox(o.path, o.max_entries, o.max_bytes, o.strategy, o.synchronous)
        self.publisher = Publisher(self.gateway, self.outbox)
        sc = cfg.scoring
        self.scorer = Scorer(sc.max_batch, sc.anomaly_on, sc.anomaly_off, sc.sketch_window_ms, sc.range_margin)
        self.batcher: Batcher[dict[str, Any]] = Batcher(cfg.batching.max_readings, cfg.batching.max_delay_ms)
        self.manager = self._manager(loaded, fetcher)
        self.transport = MqttTransport(self.gateway, cfg.broker, self.outbox, self._on_desired, self._will,
                                       lambda _online: self._mark_dirty())
        self.health = HealthServer(cfg.health.bind, cfg.health.port, self._health, self._metrics)
        self.runners = [self._runner(e.id) for e in cfg.equipment]

    def _manager(self, loaded: LoadedConfig, fetcher: Fetcher | None) -> ModelManager:
        models = loaded.agent.models
        try:
            keys = load_public_keys(models.release_keys)
        except ContractError as exc:
            raise ConfigError(str(loaded.file), "models.release_keys", str(exc)) from None
        if fetcher is None and models.tuf is not None:
            from edge_agent.fetchers.tuf_fetcher import TufFetcher, tuf_settings

            fetcher = TufFetcher(tuf_settings(models.tuf, models.store.parent / "tuf"))
        if fetcher is None and models.bundles_dir is not None:
            fetcher = LocalDirFetcher(models.bundles_dir)
        if fetcher is not None and models.fetch_attempts > 1:
            fetcher = RetryingFetcher(fetcher, models.fetch_attempts, models.fetch_retry_ms / 1000,
                                      self.stop_event.wait)
        return ModelManager(ModelStore(models.store), fetcher, bundle_verifier(keys), self.inbox.put)

    def _runner(self, equipment: str) -> SourceRunner:
        spec = next(e for e in self.cfg.equipment if e.id == equipment)
        start = self.started_ms - self.started_ms % spec.sample_period_ms
        return SourceRunner(spec, lambda: build_source(spec, start), self.inbox.put, self.stop_event)

    # -- lifecycle ------------------------------------------------------------------------------------
    def run(self) -> None:
        """Start every thread and run the pipeline here until `stop()`; then drain and shut down."""
        self.manager.restore()
        self.health.start()
        self.transport.start()
        threading.Thread(target=self._updater, name="updater", daemon=True).start()
        if not self.cfg.scoring.wait_for_model:
            self._start_sources()
        log.info("agent started", extra={"health_port": self.health.port, "equipment": len(self.runners),
                                         "outbox": str(self.cfg.outbox.path)})
        self._pipeline_alive = True
        try:
            self._pipeline()
        finally:
            self._pipeline_alive = False
            self._shutdown()

    def _start_sources(self) -> None:
        if not self._sources_started:
            self._sources_started = True
            for runner in self.runners:
                runner.start()
            log.info("sources started", extra={"equipment": len(self.runners)})

    def stop(self) -> None:
        self.stop_event.set()
        self.inbox.put(WAKE)
        self._desired.put(WAKE)

    def _mark_dirty(self) -> None:
        """Report the state soon (any thread): set the flag and wake the pipeline thread."""
        self._state_dirty.set()
        self.inbox.put(WAKE)

    def _shutdown(self) -> None:
        if self._sources_started:
            for runner in self.runners:
                runner.join(2.0)
        self._consume(self._drain(0.0))
        self._flush(final=True)
        self.transport.wait_drained(2.0)
        final = self._state(online=False)
        self.transport.stop(final)
        self.health.stop()
        self.outbox.close()
        c = self.counts
        log.info("agent stopped", extra={"readings_in": c.readings_in, "scored": c.scored,
                                         "shadow_scored": c.shadow_scored, "score_errors": c.score_errors})

    # -- pipeline thread ------------------------------------------------------------------------------
    def _pipeline(self) -> None:
        next_state = 0.0
        interval = self.cfg.health.state_interval_ms / 1000
        while not self.stop_event.is_set():
            self._consume(self._drain(self._wait_s(next_state)))
            self._flush(final=False)
            now = time.monotonic()
            if now >= next_state or self._state_dirty.is_set():
                self._state_dirty.clear()
                self.transport.publish_state(self._state(online=True))
                if now >= next_state:
                    memory.trim()
                next_state = now + interval

    def _wait_s(self, next_state: float) -> float:
        """Until the open batch is due or the next periodic state, at most IDLE_WAIT_S."""
        wait = min(IDLE_WAIT_S, next_state - time.monotonic())
        deadline = self.batcher.deadline()
        if deadline is not None:
            wait = min(wait, (deadline - _now_ms()) / 1000)
        return max(0.0, wait)

    def _drain(self, timeout: float) -> list[Item | SwapCommand | _Wake]:
        items: list[Item | SwapCommand | _Wake] = []
        try:
            items.append(self.inbox.get(timeout=timeout) if timeout > 0 else self.inbox.get_nowait())
            while len(items) < DRAIN_LIMIT:
                items.append(self.inbox.get_nowait())
        except queue.Empty:
            pass
        return items

    def _consume(self, items: list[Item | SwapCommand | _Wake]) -> None:
        samples: list[Sample] = []
        for item in items:
            if isinstance(item, Sample):
                samples.append(item)
            elif isinstance(item, SwapCommand):
                self._score(samples)  # readings queued before the swap use the old model
                samples = []
                self._apply(item)
            elif not isinstance(item, _Wake):
                self._source_status(item)
        self._score(samples)

    def _score(self, samples: list[Sample]) -> None:
        if not samples:
            return
        active = self.scorer.active.runtime.ref if self.scorer.active is not None else None
        started, started_cpu = time.perf_counter(), time.thread_time()
        result = self.scorer.process(samples)
        self.latency.add((time.perf_counter() - started) * 1e6)
        if active is not None:  # swaps happen between two `process` calls: the whole pass is this model's
            # CPU time of this thread (ORT runs in it: intra-op threads 1), so that a pass descheduled by a
            # busy gateway does not read as a slower model; the rollout's latency gate compares models.
            self.model_latency.add(active, (time.thread_time() - started_cpu) * 1e6)
        self._count(len(samples), result)
        self.publisher.events(result.events)
        with self._group():
            for batch in self.batcher.add(result.readings, _now_ms()):
                self.publisher.scores(batch)
            for ref, window in result.sketches:
                self.publisher.sketch(ref, window)

    @contextlib.contextmanager
    def _group(self) -> Iterator[None]:
        """One outbox commit (one fsync) for everything written inside."""
        try:
            with self.outbox.group():
                yield
        except OutboxError:
            self.publisher.counters.write_errors += 1
            log.exception("outbox commit failed")

    def _count(self, n: int, result: ScoreResult) -> None:
        c = self.counts
        c.readings_in += n
        c.scored += result.scored
        c.shadow_scored += result.shadow_scored
        c.score_errors += result.score_errors
        c.unscoreable.update(result.unscoreable)

    def _flush(self, final: bool) -> None:
        batch = self.batcher.flush() if final else self.batcher.due(_now_ms())
        with self._group():
            if batch:
                self.publisher.scores(batch)
            if final:
                for ref, window in self.scorer.flush():
                    self.publisher.sketch(ref, window)
            self.publisher.flush_events()

    def _apply(self, command: SwapCommand) -> None:
        if command.active is not None:
            for ref, window in self.scorer.set_active(command.active):
                self.publisher.sketch(ref, window)
        if command.shadow_changed:
            self.scorer.set_shadow(command.shadow)
        if self.scorer.active is not None:
            self._start_sources()
        for event in command.events:
            model = event.ref
            self.publisher.event(event.kind, model=model.name if model else None,
                                 model_version=model.version if model else None, detail=event.detail[:1000])
        self._mark_dirty()

    def _source_status(self, item: SourceStatus | SourceFinished) -> None:
        if isinstance(item, SourceFinished):
            log.info("source finished", extra={"equipment": item.equipment, "produced": item.produced})
            return
        reason = "" if item.available else item.reason
        self.equipment[item.equipment] = EquipmentStatus(equipment=item.equipment, available=item.available,
                                                         reason=reason[:1000])
        kind = "source_recovered" if item.available else "source_unavailable"
        self.publisher.event(kind, ts=item.ts, equipment=item.equipment, detail=item.reason[:1000])
        self._mark_dirty()

    # -- desired state (mqtt thread -> updater thread) ------------------------------------------------
    def _on_desired(self, payload: bytes) -> None:
        if not payload:
            return  # retained desired state cleared by the hub
        try:
            self._desired.put(decode_desired(self.gateway, payload))
        except PayloadError as exc:
            self.counts.malformed_desired += 1
            log.warning("malformed desired state ignored", extra={"error": str(exc)[:300]})
            self._mark_dirty()

    def _updater(self) -> None:
        while not self.stop_event.is_set():
            try:
                desired = self._desired.get(timeout=IDLE_WAIT_S)
            except queue.Empty:
                continue
            if isinstance(desired, _Wake):
                continue
            try:
                self.manager.handle(desired)
            except Exception as exc:  # the updater must survive any bundle; the model keeps serving
                log.exception("desired state handling failed")
                reason = f"internal error: {type(exc).__name__}: {exc}"[:1000]
                self.manager.update = UpdateStatus(desired_seq=desired.seq, outcome="failed", reason=reason)
            self._mark_dirty()

    # -- reporting ------------------------------------------------------------------------------------
    def _state(self, online: bool) -> bytes:
        seq = self.outbox.reserve_seq("state")
        return build_state(self, seq, online).to_bytes()

    def _will(self) -> bytes:
        return build_state(self, self.outbox.reserve_will_seq("state"), online=False).to_bytes()

    def rss_mb(self) -> float:
        return memory.rss_mb()

    def _health(self) -> tuple[bool, dict[str, Any]]:
        ok = self._pipeline_alive and self.publisher.counters.write_errors == 0
        slots = self.manager.slots()
        return ok, {
            "status": "ok" if ok else "failing",
            "gateway": self.gateway,
            "online": self.transport.online,
            "active": slots.active.model_dump() if slots.active else None,
            "outbox_depth": self.outbox.stats().depth,
        }

    def _metrics(self) -> list[Metric]:
        return metrics_snapshot(self)


def _now_ms() -> int:
    return int(time.time() * 1000)
