"""Pure ingest logic: classification, reason codes, points, line protocol, InfluxQL quoting, buckets."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.limits import MAX_PAYLOAD_BYTES
from hub.ingest.pipeline import Accepted, GatewayInfo, Inbound, Rejection, classify, severity, sql_plan
from hub.series import lineproto as lp
from hub.series.base import Point
from hub.series.points import agent_point, score_points
from hub.series.schema import bucket_interval_ms
from tests.hub import traffic

GW = GatewayInfo("gw-1", "paris", "green")


def lookup(gateway: str) -> GatewayInfo | None:
    return GW if gateway == GW.id else None


def inbound(payload: bytes, topic: str = "vigie/v1/gw-1/up/scores") -> Inbound:
    return Inbound(topic, payload, 1, 1, 1, 1000)


def test_valid_batch_becomes_score_and_sensor_points() -> None:
    result = classify(inbound(traffic.scores("gw-1", 1, n=3).to_bytes()), lookup)
    assert isinstance(result, Accepted)
    assert [p.measurement for p in result.points] == ["score", "sensor"] * 3
    score = result.points[0]
    assert dict(score.tags) == {"site": "paris", "gateway": "gw-1", "equipment": "pump-1", "model": "iforest",
                                "model_version": "1.0.0", "slot": "active"}
    assert score.fields == {"anomaly_score": 0.0, "is_anomaly": 0, "threshold": 0.4}
    assert score.ts_ms == traffic.T0


def test_shadow_and_active_readings_share_one_sensor_point() -> None:
    active = traffic.scores("gw-1", 1, n=2)
    shadow = traffic.scores("gw-1", 1, n=2, slot="shadow")
    batch = active.model_copy(update={"readings": active.readings + shadow.readings})
    points = score_points(batch, "paris")
    assert sum(p.measurement == "sensor" for p in points) == 2
    assert sum(p.measurement == "score" for p in points) == 4


@pytest.mark.parametrize(("topic", "payload", "code", "field"), [
    ("vigie/v1/gw-1/up/scores", b"{", "not_json", ""),
    ("vigie/v1/gw-1/up/scores", b"\xff\xfe", "not_json", ""),
    ("vigie/v1/gw-1/up/scores", b"[]", "schema", ""),
    ("vigie/v1/gw-1/up/scores", b'{"gateway": "gw-1", "seq": 1, "readings": []}', "limit", "readings"),
    ("vigie/v1/gw-1/up/scores", b'{"gateway": "gw-1", "seq": -1, "readings": [1]}', "schema", "seq"),
    ("vigie/v1/gw-1/up/nope", b"{}", "topic", "topic"),
    ("vigie/v1/gw-1/down/desired", b"{}", "topic", "topic"),
    ("other/gw-1/up/scores", b"{}", "topic", "topic"),
    ("vigie/v1/gw-1/up/scores", b" " * (MAX_PAYLOAD_BYTES + 1), "limit", ""),
    ("vigie/v1/gw-2/up/scores", traffic.scores("gw-2", 1).to_bytes(), "unregistered", "gateway"),
    ("vigie/v1/gw-1/up/scores", traffic.scores("gw-2", 1).to_bytes(), "gateway_mismatch", "gateway"),
])
def test_rejections_carry_a_bounded_code_and_the_field(topic: str, payload: bytes, code: str, field: str) -> None:
    result = classify(inbound(payload, topic), lookup)
    assert isinstance(result, Rejection)
    assert (result.code, result.field) == (code, field)
    assert result.reason


@given(topic=st.text(max_size=80), payload=st.binary(max_size=200))
def test_classify_never_raises(topic: str, payload: bytes) -> None:
    assert isinstance(classify(inbound(payload, topic), lookup), Accepted | Rejection)


def test_sql_plan_collects_events_states_and_equipment() -> None:
    messages = [traffic.scores("gw-1", 1), traffic.events("gw-1", 2), traffic.state("gw-1", 3, ts_ms=5)]
    kinds = ["scores", "events", "state"]
    accepted = [classify(inbound(m.to_bytes(), f"vigie/v1/gw-1/up/{k}"), lookup) for m, k in zip(messages, kinds,
                                                                                                  strict=True)]
    plan = sql_plan([a for a in accepted if isinstance(a, Accepted)], [])
    assert [(e.kind, e.severity, e.idx) for e in plan.events] == [("anomaly_start", "alert", 0),
                                                                  ("model_swapped", "info", 1)]
    assert plan.last_seen == {"gw-1": 1000}
    assert plan.equipment_seen == {("gw-1", "pump-1"): ("paris", 1000)}
    [state] = plan.states
    assert (state.seq, state.online, state.state["agent_version"]) == (3, True, "0.1.0")


def test_severity() -> None:
    assert [severity(k) for k in ("anomaly_start", "model_load_failed", "outbox_pressure", "anomaly_end")] == [
        "alert", "alert", "warning", "info"]


def test_agent_point_fields() -> None:
    point = agent_point(traffic.state("gw-1", 1, ts_ms=7, online=False), "paris")
    assert point.fields == {"outbox_depth": 0, "outbox_dropped": 0, "score_latency_p99_us": 0.0, "online": 0,
                            "rss_mb": 42.0}
    assert (point.measurement, point.ts_ms, dict(point.tags)) == ("agent", 7, {"site": "paris", "gateway": "gw-1"})


def test_line_protocol_escapes_and_types() -> None:
    point = Point("score", (("site", "a b,c=d"), ("slot", "")), {"x y": 1.5, "n": 3, "b": True}, 12)
    assert lp.line(point) == r"score,site=a\ b\,c\=d x\ y=1.5,n=3i,b=true 12"


def test_influxql_quoting() -> None:
    where = lp.where_clause({"gateway": "it's", 'we"ird': "a\\b"}, 1, 2)
    assert where == """ WHERE "gateway" = 'it\\'s' AND "we\\"ird" = 'a\\\\b' AND time >= 1ms AND time < 2ms"""


@given(start=st.integers(0, 2**42), span=st.integers(1, 2**36), budget=st.integers(2, 10_000))
def test_buckets_fit_the_budget(start: int, span: int, budget: int) -> None:
    interval = bucket_interval_ms(start, start + span, budget)
    first = start - start % interval
    buckets = len(range(first, start + span, interval))
    assert 1 <= buckets <= budget


def test_event_payload_roundtrip_is_json() -> None:
    assert json.loads(traffic.events("gw-1", 1).to_bytes())["schema"] == "vigie.events/1"
