"""Payload builders and a gateway publisher for hub tests (no agent needed)."""

from __future__ import annotations

import time

from contracts import topics
from contracts.messages import Event, EventsBatch, Reading, ReportedState, ScoresBatch

T0 = 1_700_000_000_000


def scores(gateway: str, seq: int, *, equipment: str = "pump-1", n: int = 10, start_ms: int = T0,
           step_ms: int = 100, anomaly_every: int = 0, slot: str = "active") -> ScoresBatch:
    readings = [
        Reading(
            equipment=equipment,
            ts=start_ms + i * step_ms,
            values={"temp": 20.0 + i * 0.5, "vib": 0.1 * (i % 7)},
            score=0.01 * (i % 50),
            is_anomaly=bool(anomaly_every and i % anomaly_every == 0),
            threshold=0.4,
            model="iforest",
            model_version="1.0.0",
            slot=slot,
        )
        for i in range(n)
    ]
    return ScoresBatch(gateway=gateway, seq=seq, readings=readings)


def events(gateway: str, seq: int, *, equipment: str = "pump-1", ts_ms: int = T0) -> EventsBatch:
    return EventsBatch(
        gateway=gateway,
        seq=seq,
        events=[
            Event(kind="anomaly_start", ts=ts_ms, equipment=equipment, model="iforest", model_version="1.0.0",
                  score=0.9, detail="score over threshold"),
            Event(kind="model_swapped", ts=ts_ms + 1, model="iforest", model_version="1.0.0"),
        ],
    )


def state(gateway: str, seq: int, *, online: bool = True, ts_ms: int | None = None) -> ReportedState:
    return ReportedState(gateway=gateway, seq=seq, ts=ts_ms or int(time.time() * 1000), online=online,
                         agent_version="0.1.0", rss_mb=42.0)


def topic(gateway: str, kind: str) -> str:
    return topics.up(gateway, topics.UpKind(kind))
