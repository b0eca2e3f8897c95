"""Property tests of the wire messages: round trips, and every malformed payload rejected by name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import PayloadError, decode_up, topics
from contracts._base import decode_as
from contracts.limits import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES, MAX_TIMESTAMP_MS
from contracts.messages import (
    DesiredState,
    Event,
    EventsBatch,
    FeatureCounts,
    Latency,
    ModelLatency,
    ModelRef,
    Reading,
    ReportedState,
    ScoresBatch,
    Sketch,
)

ident = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,10}[A-Za-z0-9]", fullmatch=True)
gateway_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,10}[A-Za-z0-9]", fullmatch=True)
semver = st.tuples(*(st.integers(0, 999),) * 3).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}")
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
ts = st.integers(0, MAX_TIMESTAMP_MS)
seq = st.integers(0, 2**63 - 1)

readings = st.builds(
    Reading,
    equipment=ident,
    ts=ts,
    values=st.dictionaries(ident, finite, max_size=8),
    score=finite,
    is_anomaly=st.booleans(),
    threshold=finite,
    model=ident,
    model_version=semver,
    slot=st.sampled_from(["active", "shadow"]),
)


def scores_batches(gateway: st.SearchStrategy[str] = gateway_ids) -> st.SearchStrategy[ScoresBatch]:
    return st.builds(ScoresBatch, gateway=gateway, seq=seq, readings=st.lists(readings, min_size=1, max_size=5))


events = st.builds(
    Event,
    kind=st.sampled_from(["anomaly_start", "anomaly_end", "model_rejected", "outbox_pressure"]),
    ts=ts,
    equipment=st.none() | ident,
    detail=st.text(max_size=50),
)
events_batches = st.builds(EventsBatch, gateway=gateway_ids, seq=seq, events=st.lists(events, min_size=1, max_size=4))
sketches = st.builds(
    Sketch,
    gateway=gateway_ids,
    seq=seq,
    equipment=ident,
    model=ident,
    model_version=semver,
    window_start=st.just(0),
    window_end=ts,
    n=st.integers(0, 10**6),
    features=st.lists(
        st.builds(FeatureCounts, name=ident, counts=st.lists(st.integers(0, 1000), min_size=1, max_size=12)),
        min_size=1,
        max_size=4,
    ),
)
model_refs = st.builds(ModelRef, name=ident, version=semver)
latencies = st.builds(Latency, p50_us=finite, p99_us=finite, p999_us=finite)
model_latencies = st.builds(
    ModelLatency, model=model_refs, samples=st.integers(0, 2**63 - 1), p50_us=finite, p99_us=finite, p999_us=finite
)
states = st.builds(
    ReportedState,
    gateway=gateway_ids,
    seq=seq,
    ts=ts,
    online=st.booleans(),
    latency=latencies,
    model_latency=st.none() | model_latencies,
)
desired = st.builds(
    DesiredState,
    gateway=gateway_ids,
    seq=seq,
    issued_at=ts,
    active=st.none() | model_refs,
    shadow=st.none() | model_refs,
)

ANY_MESSAGE = st.one_of(scores_batches(), events_batches, sketches, states, desired)


@given(ANY_MESSAGE)
def test_every_message_round_trips_through_bytes(message: Any) -> None:
    assert decode_as(type(message), message.to_bytes()) == message


@given(scores_batches())
def test_scores_round_trip_through_topic_decoder(batch: ScoresBatch) -> None:
    parsed, decoded = decode_up(topics.up(batch.gateway, topics.UpKind.SCORES), batch.to_bytes())
    assert decoded == batch
    assert parsed.gateway == batch.gateway


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_are_rejected_with_a_payload_error(raw: bytes) -> None:
    with pytest.raises(PayloadError):
        decode_up("vigie/v1/gw-1/up/scores", raw)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@given(scores_batches(st.just("gw-1")), st.data())
def test_a_wrong_type_in_any_field_is_named_in_the_error(batch: ScoresBatch, data: st.DataObject) -> None:
    document = json.loads(batch.to_bytes())
    path = data.draw(st.sampled_from(_leaf_paths(document)))
    original = _get(document, path)
    bad = data.draw(JSON_VALUES.filter(lambda v: not _same_kind(v, original)))
    _set(document, path, bad)
    try:
        decode_up("vigie/v1/gw-1/up/scores", json.dumps(document).encode())
    except PayloadError as exc:
        assert exc.field, f"no field named for {path}"
        assert exc.field.split(".")[0] == str(path[0]), (exc.field, path)
    else:
        pytest.fail(f"accepted {bad!r} at {path}")  # every type change of these fields is invalid


@given(scores_batches(st.just("gw-1")), st.data())
def test_a_missing_required_field_is_named(batch: ScoresBatch, data: st.DataObject) -> None:
    document = json.loads(batch.to_bytes())
    reading = document["readings"][0]
    required = ["equipment", "ts", "values", "score", "is_anomaly", "threshold", "model", "model_version"]
    field = data.draw(st.sampled_from(required))
    del reading[field]
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", json.dumps(document).encode())
    assert info.value.field == f"readings.0.{field}"
    assert "required" in info.value.reason.lower()


def test_an_oversized_batch_is_rejected_as_a_limit() -> None:
    one = Reading(
        equipment="p1", ts=1, values={}, score=0.0, is_anomaly=False, threshold=1.0, model="m", model_version="1.0.0"
    )
    document = {
        "schema": "vigie.scores/1",
        "gateway": "gw-1",
        "seq": 1,
        "readings": [one.model_dump()] * (MAX_BATCH_READINGS + 1),
    }
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", json.dumps(document).encode())
    assert info.value.field == "readings"
    assert type(info.value).__name__ == "LimitError"


def test_an_oversized_payload_is_rejected_before_parsing() -> None:
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", b" " * (MAX_PAYLOAD_BYTES + 1))
    assert "limit" in info.value.reason


def test_a_payload_for_another_gateway_is_rejected() -> None:
    batch = ScoresBatch(
        gateway="gw-2",
        seq=0,
        readings=[
            Reading(
                equipment="p1",
                ts=1,
                values={},
                score=0.0,
                is_anomaly=False,
                threshold=1.0,
                model="m",
                model_version="1.0.0",
            )
        ],
    )
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", batch.to_bytes())
    assert info.value.field == "gateway"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_rejected(value: str) -> None:
    raw = (
        '{"schema":"vigie.scores/1","gateway":"gw-1","seq":1,"readings":[{"equipment":"p","ts":1,'
        f'"values":{{}},"score":{value},"is_anomaly":false,"threshold":1,"model":"m","model_version":"1.0.0"}}]}}'
    )
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", raw.encode())
    assert info.value.field == "readings.0.score"


def test_a_state_from_an_agent_without_per_model_latency_is_accepted() -> None:
    raw = b'{"schema":"vigie.state/1","gateway":"gw-1","seq":1,"ts":1,"online":true,"latency":{"p99_us":120.0}}'
    state = decode_as(ReportedState, raw)
    assert state.model_latency is None and state.latency.p99_us == 120.0


@pytest.mark.parametrize(
    ("model_latency", "field"),
    [
        ({"samples": 3, "p99_us": 1.0}, "model_latency.model"),
        ({"model": {"name": "pump", "version": "1.0"}, "samples": 3}, "model_latency.model.version"),
        ({"model": {"name": "pump", "version": "1.0.0"}, "samples": -1}, "model_latency.samples"),
        ({"model": {"name": "pump", "version": "1.0.0"}, "p99_us": "NaN"}, "model_latency.p99_us"),
        ({"model": {"name": "pump", "version": "1.0.0"}, "slot": "active"}, "model_latency.slot"),
    ],
)
def test_a_malformed_model_latency_is_named(model_latency: dict[str, Any], field: str) -> None:
    document = {"schema": "vigie.state/1", "gateway": "gw-1", "seq": 1, "ts": 1, "online": True,
                "model_latency": model_latency}
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/state", json.dumps(document).encode())
    assert info.value.field == field


def test_an_unknown_schema_version_is_rejected() -> None:
    raw = b'{"schema":"vigie.scores/2","gateway":"gw-1","seq":1,"readings":[]}'
    with pytest.raises(PayloadError) as info:
        decode_up("vigie/v1/gw-1/up/scores", raw)
    assert info.value.field == "schema"


def _leaf_paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(document, dict):
        items = list(document.items())
    elif isinstance(document, list):
        items = list(enumerate(document))
    else:
        return [prefix]
    paths: list[tuple[Any, ...]] = []
    for key, value in items:
        if (*prefix, key) in {("values",)}:
            continue
        if len(prefix) >= 2 and prefix[-1] == "values":
            continue  # channel values are a free-form map: covered by the value-type test below
        paths.extend(_leaf_paths(value, (*prefix, key)))
    return [p for p in paths if p and p[-1] != "values"] or [prefix]


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    _get(document, path[:-1])[path[-1]] = value


def _same_kind(new: Any, old: Any) -> bool:
    """Values pydantic would accept in place of `old` (lax mode coerces some numbers and strings)."""
    if isinstance(old, bool) or isinstance(new, bool):
        return isinstance(new, bool) or (
            isinstance(old, bool)
            and new in (0, 1, "0", "1", "true", "false", "True", "False", "yes", "no", "on", "off", "t", "f", "y", "n")
        )
    if isinstance(old, int | float):
        return isinstance(new, int | float) or _numeric_string(new)
    if isinstance(old, str):
        return isinstance(new, str)
    return type(new) is type(old)


def _numeric_string(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True
