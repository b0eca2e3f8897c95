"""Measurements of ARCHITECTURE section 4: tags (small, bounded) and fields, and how fields downsample.

Booleans (`is_anomaly`, `drifted`, `online`) are stored as integers 0/1 so that they aggregate
(`max` over a bucket = "was there any anomaly").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.series.base import Agg


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    tags: tuple[str, ...]
    fields: tuple[str, ...] | None
    """None: the fields are dynamic (one per sensor channel)."""
    aggregates: dict[str, Agg]
    default_agg: Agg = "mean"

    def aggregate(self, field: str) -> Agg:
        return self.aggregates.get(field, self.default_agg)


SCORE = Measurement(
    "score",
    ("site", "gateway", "equipment", "model", "model_version", "slot"),
    ("anomaly_score", "is_anomaly", "threshold"),
    {"anomaly_score": "max", "is_anomaly": "max", "threshold": "max"},
)
"""Score peaks must survive downsampling, hence max."""
SENSOR = Measurement("sensor", ("site", "gateway", "equipment"), None, {})
DRIFT = Measurement(
    "drift",
    ("site", "gateway", "equipment", "feature", "model_version"),
    ("psi", "js", "n", "drifted"),
    {"psi": "max", "js": "max", "n": "sum", "drifted": "max"},
)
AGENT = Measurement(
    "agent",
    ("site", "gateway"),
    ("outbox_depth", "outbox_dropped", "score_latency_p99_us", "rss_mb", "online"),
    {"outbox_depth": "max", "outbox_dropped": "max", "score_latency_p99_us": "max", "rss_mb": "max", "online": "min"},
)
MEASUREMENTS = {m.name: m for m in (SCORE, SENSOR, DRIFT, AGENT)}


def bucket_interval_ms(start_ms: int, end_ms: int, max_points: int) -> int:
    """Bucket width so that epoch-aligned buckets over [start, end) number at most `max_points` (>= 2)."""
    span = max(end_ms - start_ms, 1)
    return max(1, math.ceil(span / max(max_points - 1, 1)))
