"""Pure conversion of wire messages into points of the section-4 schema (no I/O)."""

from __future__ import annotations

from contracts.messages import ReportedState, ScoresBatch
from hub.series.base import Point


def score_points(batch: ScoresBatch, site: str) -> list[Point]:
    """One `score` point per reading and one `sensor` point per (equipment, ts) with the raw values."""
    points: list[Point] = []
    append = points.append
    gateway = batch.gateway
    seen_sensor: set[tuple[str, int]] = set()
    score_tags: dict[tuple[str, str, str, str], tuple[tuple[str, str], ...]] = {}
    sensor_tags: dict[str, tuple[tuple[str, str], ...]] = {}
    for r in batch.readings:
        key = (r.equipment, r.model, r.model_version, r.slot)
        tags = score_tags.get(key)
        if tags is None:
            tags = score_tags[key] = (
                ("site", site), ("gateway", gateway), ("equipment", r.equipment), ("model", r.model),
                ("model_version", r.model_version), ("slot", r.slot),
            )
        append(Point("score", tags, {"anomaly_score": r.score, "is_anomaly": int(r.is_anomaly),
                                     "threshold": r.threshold}, r.ts))
        if r.values and (r.equipment, r.ts) not in seen_sensor:
            seen_sensor.add((r.equipment, r.ts))
            stags = sensor_tags.get(r.equipment)
            if stags is None:
                stags = sensor_tags[r.equipment] = (("site", site), ("gateway", gateway), ("equipment", r.equipment))
            append(Point("sensor", stags, r.values, r.ts))
    return points


def agent_point(state: ReportedState, site: str) -> Point:
    """Health of one agent as reported in its state message."""
    outbox = state.outbox
    fields: dict[str, float | int | bool] = {
        "outbox_depth": outbox.depth if outbox else 0,
        "outbox_dropped": outbox.dropped if outbox else 0,
        "score_latency_p99_us": float(state.latency.p99_us),
        "online": int(state.online),
    }
    if state.rss_mb is not None:
        fields["rss_mb"] = float(state.rss_mb)
    return Point("agent", (("site", site), ("gateway", state.gateway)), fields, state.ts)


def drift_point(
    site: str, gateway: str, equipment: str, feature: str, model_version: str, ts_ms: int,
    *, psi: float, js: float, n: int, drifted: bool,
) -> Point:
    """One drift verdict for one feature over one window (written by the drift monitor)."""
    tags = (
        ("site", site),
        ("gateway", gateway),
        ("equipment", equipment),
        ("feature", feature),
        ("model_version", model_version),
    )
    return Point("drift", tags, {"psi": psi, "js": js, "n": n, "drifted": int(drifted)}, ts_ms)
