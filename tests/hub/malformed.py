"""Hypothesis strategies for malformed up/ payloads, each with the quarantine reason it must get."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.hub import traffic


@dataclass(frozen=True)
class Bad:
    payload: bytes
    code: str
    field: str | None
    """Expected `field` of the quarantine entry (None: not checked)."""


def valid_document(gateway: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(traffic.scores(gateway, 1, n=3).to_bytes())
    return document


def _raw_bytes() -> st.SearchStrategy[Bad]:
    def expected(data: bytes) -> Bad:
        try:
            json.loads(data)
        except (ValueError, RecursionError):
            return Bad(data, "not_json", "")
        return Bad(data, "schema", None)

    return st.binary(max_size=300).map(expected)


def _dropped_key(gateway: str) -> st.SearchStrategy[Bad]:
    def drop(key: str) -> Bad:
        document = valid_document(gateway)
        del document[key]
        return Bad(json.dumps(document).encode(), "schema", key)

    return st.sampled_from(["gateway", "seq", "readings"]).map(drop)


_WRONG_VALUES: list[Any] = ["x", None, [], {}, -1, 1e400, True]


def _wrong_reading_field(gateway: str) -> st.SearchStrategy[Bad]:
    fields = st.sampled_from(["equipment", "ts", "score", "is_anomaly", "threshold", "model", "model_version",
                              "slot", "values"])

    def corrupt(args: tuple[int, str, Any]) -> Bad | None:
        index, field, value = args
        document = valid_document(gateway)
        reading = document["readings"][index]
        if _still_valid(field, value):
            return None
        reading[field] = value
        return Bad(json.dumps(document).encode(), "schema", f"readings.{index}.{field}")

    strategy = st.tuples(st.integers(0, 2), fields, st.sampled_from(_WRONG_VALUES)).map(corrupt)
    return strategy.filter(lambda bad: bad is not None)  # type: ignore[return-value]


def _still_valid(field: str, value: Any) -> bool:
    """Values pydantic (lax mode) still accepts for the field."""
    if field in ("score", "threshold"):
        return isinstance(value, int | bool) or (isinstance(value, float) and value != 1e400)
    if field == "ts":
        return value is True
    if field == "is_anomaly":
        return isinstance(value, bool)
    if field == "values":
        return bool(value == {})
    if field in ("equipment", "model"):
        return bool(value == "x")
    return False


def _extra_key(gateway: str) -> st.SearchStrategy[Bad]:
    keys = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)

    def add(key: str) -> Bad:
        document = valid_document(gateway)
        if key in document:
            key = key + "_x"
        document[key] = 1
        return Bad(json.dumps(document).encode(), "schema", key)

    return keys.filter(lambda k: k not in ("schema", "gateway", "seq", "readings")).map(add)


def _impersonation(gateway: str) -> st.SearchStrategy[Bad]:
    ids = st.from_regex(r"\A[a-z][a-z0-9]{2,10}\Z").filter(lambda g: g != gateway)
    return ids.map(lambda other: Bad(traffic.scores(other, 1, n=2).to_bytes(), "gateway_mismatch", "gateway"))


def malformed(gateway: str) -> st.SearchStrategy[Bad]:
    return st.one_of(_raw_bytes(), _dropped_key(gateway), _wrong_reading_field(gateway), _extra_key(gateway),
                     _impersonation(gateway))
