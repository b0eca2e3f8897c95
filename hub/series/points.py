"""Pure conversion of wire messages into points of the section-4 schema (no I/O)."""

from __future__ import annotations

from contracts.messages import ReportedState, ScoresBatch
from hub.series.base import Point


def score_points(batch: ScoresBatch, site: str) -> list[Point]:
    """One `score` point per reading and one `sensor` point per (equipment, ts) with the raw values."""
    points: list[Point] = []
    gateway = batch.gateway
    seen_sensor: set[tuple[str, int]] = set()
    for r in batch.readings:
        score_tags = (
            ("site", site),
            ("gateway", gateway),
            ("equipment", r.equipment),
            ("model", r.model),
            ("model_version", r.model_version),
            ("slot", r.slot),
        )
        fields = {"anomaly_score": r.score, "is_anomaly": int(r.is_anomaly), "threshold": r.threshold}
        points.append(Point("score", score_tags, fields, r.ts))
        key = (r.equipment, r.ts)
        if r.values and key not in seen_sensor:
            seen_sensor.add(key)
            sensor_tags = (("site", site), ("gateway", gateway), ("equipment", r.equipment))
            points.append(Point("sensor", sensor_tags, dict(r.values), r.ts))
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
