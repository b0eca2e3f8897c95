"""The SeriesStore contract on the embedded SQLite store and on the real influxd 1.6.7."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub._errors import StoreUnavailable
from hub.series.base import Point, RangeQuery, SeriesStore
from hub.series.influx_v1 import InfluxV1Store
from hub.series.sqlite_store import SqliteSeriesStore


@pytest.fixture(params=["sqlite", pytest.param("influxdb1", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SeriesStore]:
    if request.param == "sqlite":
        opened: Any = SqliteSeriesStore(tmp_path / "series.db")
    else:
        influxd = request.getfixturevalue("influxd")
        opened = InfluxV1Store(influxd.url, request.getfixturevalue("influx_database"))
    yield opened
    opened.close()


def score(ts: int, value: float, *, equipment: str = "m1", version: str = "1.0.0", flag: int = 0) -> Point:
    tags = (("site", "s"), ("gateway", "g"), ("equipment", equipment), ("model", "iforest"),
            ("model_version", version), ("slot", "active"))
    return Point("score", tags, {"anomaly_score": value, "is_anomaly": flag, "threshold": 0.5}, ts)


def query(budget: int, start: int = 0, end: int = 10_000, **where: str) -> RangeQuery:
    return RangeQuery("score", {"gateway": "g", "equipment": "m1", **where}, start, end, budget)


def test_rewriting_a_key_overwrites_it(store: SeriesStore) -> None:
    store.write([score(1000, 0.1), score(2000, 0.2)])
    store.write([score(1000, 0.9), score(2000, 0.2)])
    result = store.query_range(query(100))
    assert result.interval_ms is None
    assert [(r.ts_ms, r.fields["anomaly_score"]) for r in result.rows] == [(1000, 0.9), (2000, 0.2)]


def test_range_is_half_open_and_filtered_by_tags(store: SeriesStore) -> None:
    store.write([score(t, 0.1) for t in (0, 5000, 9999, 10_000)] + [score(5000, 0.7, equipment="m2")])
    assert [r.ts_ms for r in store.query_range(query(100)).rows] == [0, 5000, 9999]
    assert store.query_range(query(100, slot="shadow")).rows == []


def test_over_budget_is_aggregated_in_epoch_aligned_buckets(store: SeriesStore) -> None:
    store.write([score(t * 100, 0.01 * (t % 10), flag=int(t == 42)) for t in range(100)])
    result = store.query_range(query(11))
    assert result.interval_ms == 1000 and len(result.rows) == 10
    assert [r.ts_ms for r in result.rows] == list(range(0, 10_000, 1000))
    assert all(r.fields["anomaly_score"] == pytest.approx(0.09) for r in result.rows)  # max keeps the peaks
    assert [r.fields["is_anomaly"] for r in result.rows] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_dynamic_sensor_fields_are_averaged(store: SeriesStore) -> None:
    tags = (("site", "s"), ("gateway", "g"), ("equipment", "m1"))
    store.write([Point("sensor", tags, {"temp": float(t), "rpm": 2.0 * t}, t * 100) for t in range(20)])
    raw = store.query_range(RangeQuery("sensor", {"gateway": "g", "equipment": "m1"}, 0, 2000, 100))
    assert raw.rows[3].fields == {"temp": 3.0, "rpm": 6.0}
    agg = store.query_range(RangeQuery("sensor", {"gateway": "g", "equipment": "m1"}, 0, 2000, 3))
    assert agg.interval_ms == 1000
    assert [r.fields for r in agg.rows] == [{"temp": 4.5, "rpm": 9.0}, {"temp": 14.5, "rpm": 29.0}]


def test_latest_per_equipment_with_its_tags(store: SeriesStore) -> None:
    store.write([score(1000, 0.1), score(3000, 0.3, version="1.1.0"), score(2000, 0.2, equipment="m2")])
    latest = store.latest("score", {"gateway": "g", "slot": "active"}, ("gateway", "equipment"))
    assert {k: (r.ts_ms, r.fields["anomaly_score"]) for k, r in latest.items()} == {
        ("g", "m1"): (3000, 0.3), ("g", "m2"): (2000, 0.2)}
    assert latest[("g", "m1")].tags["model_version"] == "1.1.0"


def test_hostile_tag_values_are_quoted(store: SeriesStore) -> None:
    assert store.query_range(RangeQuery("score", {"gateway": "x' OR '1'='1"}, 0, 10, 10)).rows == []


def test_unreachable_influxdb_is_unavailable() -> None:
    store = InfluxV1Store("http://127.0.0.1:9", "nope", timeout_s=0.5)
    with pytest.raises(StoreUnavailable):
        store.write([score(1, 0.1)])
    with pytest.raises(StoreUnavailable):
        store.ping()
