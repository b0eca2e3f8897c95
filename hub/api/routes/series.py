"""Score and sensor series of one equipment over a time range, downsampled server-side to a point budget."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from contracts.limits import MAX_TIMESTAMP_MS
from hub.api.deps import READER, ContextDep, StoreDep
from hub.api.schemas import SeriesOut, SeriesPoint
from hub.series.base import RangeQuery, SeriesStore

router = APIRouter(prefix="/series", tags=["series"], dependencies=[READER])

Start = Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, inclusive; default end - 1 h")]
End = Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="epoch ms, exclusive; default now")]
MaxPoints = Annotated[int | None, Query(ge=2, le=100_000, description="point budget; default from settings")]


@router.get("/scores")
def score_series(
    context: ContextDep,
    store: StoreDep,
    gateway: str,
    equipment: str,
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = None,
    slot: Annotated[str, Query(pattern="^(active|shadow)$")] = "active",
) -> SeriesOut:
    """anomaly_score, is_anomaly (0/1), threshold; buckets keep the maximum so that peaks stay visible."""
    where = {"gateway": gateway, "equipment": equipment, "slot": slot}
    budget = max_points or context.settings.api.default_max_points
    return _series(store, "score", where, start, end, budget)


@router.get("/sensors")
def sensor_series(
    context: ContextDep,
    store: StoreDep,
    gateway: str,
    equipment: str,
    start: Start = None,
    end: End = None,
    max_points: MaxPoints = None,
) -> SeriesOut:
    """One value per sensor channel; buckets hold the mean."""
    where = {"gateway": gateway, "equipment": equipment}
    budget = max_points or context.settings.api.default_max_points
    return _series(store, "sensor", where, start, end, budget)


def _series(
    store: SeriesStore, measurement: str, where: dict[str, str], start: int | None, end: int | None, budget: int
) -> SeriesOut:
    """Any span is cheap: the store buckets it to `budget` points. An empty or inverted range has no points."""
    end_ms = end if end is not None else int(time.time() * 1000) + 1
    start_ms = start if start is not None else max(0, end_ms - 3600 * 1000)
    if start_ms >= end_ms:
        return SeriesOut(measurement=measurement, gateway=where["gateway"], equipment=where["equipment"],
                         start_ms=start_ms, end_ms=end_ms, interval_ms=None, points=[])
    result = store.query_range(RangeQuery(measurement, where, start_ms, end_ms, budget))
    return SeriesOut(
        measurement=measurement,
        gateway=where["gateway"],
        equipment=where["equipment"],
        start_ms=start_ms,
        end_ms=end_ms,
        interval_ms=result.interval_ms,
        points=[SeriesPoint(ts_ms=r.ts_ms, values=r.fields) for r in result.rows],
    )
