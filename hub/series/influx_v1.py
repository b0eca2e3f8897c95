"""InfluxDB 1.x: batched line protocol on `/write` (precision ms), InfluxQL on `/query` (epoch ms)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from hub._errors import StoreRejected, StoreUnavailable
from hub.series import lineproto as lp
from hub.series.base import Point, RangeQuery, Row, SeriesResult
from hub.series.schema import MEASUREMENTS, bucket_interval_ms

WRITE_CHUNK = 5000
"""Points per HTTP request (InfluxDB recommends 5000-10000)."""


class InfluxV1Store:
    name = "influxdb1"

    def __init__(
        self,
        url: str,
        database: str,
        *,
        username: str = "",
        password: str = "",
        timeout_s: float = 10.0,
        create_database: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self._auth: dict[str, str] = {"u": username, "p": password} if username else {}
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, headers=dict(headers or {}))
        self._create_database = create_database
        self._database_ready = False

    # -- writing -----------------------------------------------------------------------------------
    def write(self, points: Sequence[Point]) -> None:
        self._ensure_database()
        for start in range(0, len(points), WRITE_CHUNK):
            self._write_body(lp.lines(points[start : start + WRITE_CHUNK]))

    def _write_body(self, body: bytes) -> None:
        params = {"db": self.database, "precision": "ms", **self._auth}
        response = self._request("POST", "/write", params=params, content=body)
        if response.status_code == 404:  # database dropped behind our back: recreate, then retry
            self._database_ready = False
            raise StoreUnavailable(f"influxdb: {_error_text(response)}")
        if 400 <= response.status_code < 500:
            raise StoreRejected(f"influxdb rejected the write: {_error_text(response)}")
        if response.status_code >= 300:
            raise StoreUnavailable(f"influxdb write failed ({response.status_code}): {_error_text(response)}")

    def _ensure_database(self) -> None:
        if self._database_ready or not self._create_database:
            return
        self._query(f"CREATE DATABASE {lp.ident(self.database)}", method="POST")
        self._database_ready = True

    # -- reading -----------------------------------------------------------------------------------
    def query_range(self, query: RangeQuery) -> SeriesResult:
        measurement = MEASUREMENTS[query.measurement]
        where = lp.where_clause(query.where, query.start_ms, query.end_ms)
        raw = lp.select_raw(query.measurement, query.fields, where, query.max_points + 1)
        sparse = query.fields is None and measurement.fields is None  # one field per channel: omit absent ones
        rows = self._rows(raw, drop=set(measurement.tags), sparse=sparse)
        if len(rows) <= query.max_points:
            return SeriesResult(rows, None)
        interval = bucket_interval_ms(query.start_ms, query.end_ms, query.max_points)
        fields = query.fields or measurement.fields
        select = lp.select_aggregates(fields, measurement.aggregates, measurement.default_agg)
        agg = lp.select_buckets(query.measurement, select, where, interval)
        prefix = f"{measurement.default_agg}_" if fields is None else ""
        return SeriesResult(self._rows(agg, drop=set(), strip_prefix=prefix, sparse=sparse), interval)

    def latest(self, measurement: str, where: Mapping[str, str], by: tuple[str, ...]) -> dict[tuple[str, ...], Row]:
        schema = MEASUREMENTS[measurement]
        text = lp.select_latest(measurement, None, lp.where_clause(where), by)
        out: dict[tuple[str, ...], Row] = {}
        for series in self._series(text):
            columns: list[str] = series.get("columns") or []
            for values in (series.get("values") or [])[:1]:
                row = dict(zip(columns, values, strict=False))
                tags = {k: str(v) for k, v in (series.get("tags") or {}).items()}
                tags.update({k: str(row[k]) for k in schema.tags if row.get(k) is not None})
                fields = {k: _number(v) for k, v in row.items() if k != "time" and k not in schema.tags}
                out[tuple(tags.get(t, "") for t in by)] = Row(int(row["time"]), fields, tags)
        return out

    def ping(self) -> None:
        response = self._request("GET", "/ping")
        if response.status_code >= 300:
            raise StoreUnavailable(f"influxdb ping answered {response.status_code}")

    def close(self) -> None:
        self._client.close()

    def drop_database(self) -> None:
        """For tests and benchmarks."""
        self._query(f"DROP DATABASE {lp.ident(self.database)}", method="POST")
        self._database_ready = False

    def query(self, text: str) -> list[dict[str, Any]]:
        """Raw InfluxQL against the database; the list of series of the first statement."""
        return self._series(text)

    # -- plumbing ----------------------------------------------------------------------------------
    def _rows(self, text: str, drop: set[str], strip_prefix: str = "", sparse: bool = False) -> list[Row]:
        rows: list[Row] = []
        for series in self._series(text):
            rows.extend(_series_rows(series, drop, strip_prefix, sparse))
        rows.sort(key=lambda r: r.ts_ms)
        return rows

    def _series(self, text: str) -> list[dict[str, Any]]:
        body = self._query(text)
        results = body.get("results") or [{}]
        first = results[0]
        if "error" in first:
            if "database not found" in str(first["error"]):
                return []
            raise StoreRejected(f"influxql error: {first['error']}")
        series: list[dict[str, Any]] = first.get("series") or []
        return series

    def _query(self, text: str, method: str = "GET") -> dict[str, Any]:
        params = {"db": self.database, "q": text, "epoch": "ms", **self._auth}
        response = self._request(method, "/query", params=params)
        if response.status_code >= 500 or response.status_code in (401, 403):
            raise StoreUnavailable(f"influxdb query failed ({response.status_code}): {_error_text(response)}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise StoreUnavailable(f"influxdb answered non-JSON ({response.status_code})") from None
        if response.status_code >= 400:
            raise StoreRejected(f"influxql error: {body.get('error', response.status_code)}")
        return body

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(f"influxdb at {self.url} unreachable: {type(exc).__name__}: {exc}") from None


def _series_rows(series: Mapping[str, Any], drop: set[str], strip_prefix: str = "", sparse: bool = False) -> list[Row]:
    columns: list[str] = series.get("columns") or []
    names = [c[len(strip_prefix) :] if strip_prefix and c.startswith(strip_prefix) else c for c in columns]
    keep = [i for i, c in enumerate(columns) if c != "time" and c not in drop]
    rows: list[Row] = []
    for values in series.get("values") or []:
        fields = {names[i]: _number(values[i]) for i in keep if not (sparse and values[i] is None)}
        rows.append(Row(int(values[0]), fields))
    return rows


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def _error_text(response: httpx.Response) -> str:
    text = response.text.strip()
    return text[:300] if text else f"HTTP {response.status_code}"
