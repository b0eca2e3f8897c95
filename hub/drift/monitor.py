"""The drift monitor (adapter): sketches from ingest -> `drift` points in the series store + drift events.

Wiring: `attach(context)` (called by the app factory) adds `DriftMonitor.on_batch` to the ingest worker's
listeners, which it calls, in the ingest thread, with the accepted messages of every committed batch.
For each `Sketch` the monitor finds the manifest of its (model, version), pools and evaluates the window
(`tracker.py`, `stats.py`), writes one `drift` point per evaluated feature (tags site, gateway, equipment,
feature, model_version; fields psi, js, n, drifted = the state after the hysteresis; time = end of the
evaluated window, sensor clock) and, when a feature starts or stops drifting, a `drift_start` (severity
warning) or `drift_end` (info) event in the events table.

Events share the table's (gateway, seq, idx) key with agent events: they use the sketch's seq and
`idx = DRIFT_EVENT_IDX + position of the feature in the manifest's reference`, far above any agent event
index, so a replayed evaluation inserts nothing twice.

After a restart, the first sketch of a stream seeds its hysteresis from the stream's latest drift points,
so a feature drifting before the restart is still drifting (no second start event, and its end is seen).
What is lost: a partly filled pool, and a window whose processing failed (store or database down) -- the
monitor logs it and moves on; drift is a statistical signal and the next windows carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.engine import Engine

from contracts.manifest import Manifest
from contracts.messages import Sketch
from hub._errors import HubError
from hub.drift.manifests import ManifestProvider
from hub.drift.tracker import DriftTracker, Evaluation, FeatureResult, StreamKey, Window
from hub.ingest.pipeline import Accepted, EventEntry
from hub.series.base import Point, SeriesStore
from hub.series.points import drift_point

log = logging.getLogger("hub.drift")
DRIFT_EVENT_IDX = 1_000_000
"""Event index base of drift events (agent events use 0 .. MAX_BATCH_EVENTS - 1)."""
SEVERITY = {"start": "warning", "end": "info"}


class EventSink(Protocol):
    def add(self, events: list[EventEntry]) -> None:
        """Insert the events (idempotent on (gateway, seq, idx)); may raise DatabaseError."""


class SqlEventSink:
    """Drift events go through the same idempotent insert as agent events."""

    def __init__(self, engine: Engine) -> None:
        from hub.ingest.sink import IngestDb

        self._db = IngestDb(engine)

    def add(self, events: list[EventEntry]) -> None:
        from hub.ingest.pipeline import SqlPlan

        self._db.apply(SqlPlan(events=events))


class DriftMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.windows = Counter(
            "vigie_hub_drift_windows",
            "Sketch windows seen by the drift monitor, by outcome "
            "(pooled, evaluated, duplicate, no_manifest, failed).",
            ["outcome"], registry=registry,
        )
        self.transitions = Counter(
            "vigie_hub_drift_transitions", "Features that started or stopped drifting.", ["transition"],
            registry=registry,
        )


class DriftMonitor:
    def __init__(
        self,
        store: SeriesStore,
        events: EventSink,
        manifests: ManifestProvider,
        tracker: DriftTracker,
        metrics: DriftMetrics | None = None,
    ) -> None:
        self.store = store
        self.events = events
        self.manifests = manifests
        self.tracker = tracker
        self.metrics = metrics or DriftMetrics()
        self._warned: set[tuple[str, str]] = set()

    def on_batch(self, accepted: Sequence[Accepted]) -> None:
        """Ingest listener: handle every sketch of a committed batch; never raises."""
        for item in accepted:
            if isinstance(item.message, Sketch):
                try:
                    self.observe(item.message, item.gateway.site, item.inbound.received_ms)
                except HubError as exc:
                    self.metrics.windows.labels("failed").inc()
                    log.warning("drift window not processed", extra={"gateway": item.message.gateway,
                                                                     "seq": item.message.seq, "error": str(exc)})

    def observe(self, sketch: Sketch, site: str, received_ms: int) -> Evaluation | None:
        """Pool one sketch; if that completes an evaluation, store it and return it. Raises HubError."""
        manifest = self.manifests.manifest(sketch.model, sketch.model_version)
        if manifest is None:
            self._no_manifest(sketch)
            return None
        key: StreamKey = (sketch.gateway, sketch.equipment, sketch.model, sketch.model_version)
        if not self.tracker.known(key):
            self.tracker.seed(key, self._recorded(sketch))
        reference = {h.name: h.probs for h in manifest.reference}
        window = Window(sketch.seq, sketch.window_start, sketch.window_end, sketch.n,
                        {f.name: f.counts for f in sketch.features})
        evaluation = self.tracker.add(key, window, reference)
        if isinstance(evaluation, str):
            self.metrics.windows.labels(evaluation).inc()
            return None
        self._store(sketch, site, manifest, evaluation, received_ms)
        self.tracker.commit(key, evaluation)
        self.metrics.windows.labels("evaluated").inc()
        return evaluation

    def _recorded(self, sketch: Sketch) -> dict[str, bool]:
        where = {"gateway": sketch.gateway, "equipment": sketch.equipment, "model_version": sketch.model_version}
        latest = self.store.latest("drift", where, ("feature",))
        return {key[0]: bool(row.fields.get("drifted")) for key, row in latest.items() if key[0]}

    def _store(self, sketch: Sketch, site: str, manifest: Manifest, evaluation: Evaluation, received_ms: int) -> None:
        points = [self._point(sketch, site, evaluation, r) for r in evaluation.results]
        if points:
            self.store.write(points)
        order = {h.name: i for i, h in enumerate(manifest.reference)}
        events = [
            self._event(sketch, site, evaluation, r, order.get(r.feature, len(order)), received_ms)
            for r in evaluation.results
            if r.transition is not None
        ]
        if events:
            self.events.add(events)
            for event in events:
                self.metrics.transitions.labels(event.kind.removeprefix("drift_")).inc()
                log.info("drift %s", event.kind, extra={"gateway": event.gateway, "equipment": event.equipment,
                                                         "detail": event.detail})
        if evaluation.skipped:
            log.warning("features without a usable reference", extra={"model": sketch.model,
                        "version": sketch.model_version, "features": evaluation.skipped[:10]})

    @staticmethod
    def _point(sketch: Sketch, site: str, evaluation: Evaluation, result: FeatureResult) -> Point:
        return drift_point(
            site, sketch.gateway, sketch.equipment, result.feature, sketch.model_version, evaluation.end_ms,
            psi=round(result.stats.psi, 6), js=round(result.stats.js, 6), n=result.stats.n, drifted=result.drifting,
        )

    @staticmethod
    def _event(
        sketch: Sketch, site: str, evaluation: Evaluation, result: FeatureResult, position: int, received_ms: int
    ) -> EventEntry:
        assert result.transition is not None
        stats = result.stats
        verb = "drifting" if result.transition == "start" else "back to its reference"
        detail = (f"feature {result.feature} {verb}: PSI {stats.psi:.3f}, JS {stats.js:.3f} over {stats.n} readings "
                  f"[{evaluation.start_ms}, {evaluation.end_ms}]")
        return EventEntry(
            gateway=sketch.gateway,
            site=site,
            seq=sketch.seq,
            idx=DRIFT_EVENT_IDX + position,
            kind=f"drift_{result.transition}",
            severity=SEVERITY[result.transition],
            ts_ms=evaluation.end_ms,
            equipment=sketch.equipment,
            model=sketch.model,
            model_version=sketch.model_version,
            score=None,
            detail=detail[:1000],
            received_ms=received_ms,
        )

    def _no_manifest(self, sketch: Sketch) -> None:
        self.metrics.windows.labels("no_manifest").inc()
        ref = (sketch.model, sketch.model_version)
        if ref not in self._warned and len(self._warned) < 1000:
            self._warned.add(ref)
            log.warning("no manifest for a sketch's model: drift not evaluated",
                        extra={"model": sketch.model, "version": sketch.model_version})
