"""Embedded zero-setup series store: one SQLite file (WAL), `INSERT OR REPLACE` on the point key.

Table `points`: the key is (measurement, site, gateway, equipment, extra tags, ts); `extra` holds the
remaining tags as canonical JSON, `fields` the field values as a JSON object. Downsampling runs in SQL
(`json_each` over the fields, grouped by epoch-aligned bucket).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub._errors import StoreUnavailable
from hub.series.base import Point, RangeQuery, Row, SeriesResult
from hub.series.schema import MEASUREMENTS, bucket_interval_ms

COLUMN_TAGS = ("site", "gateway", "equipment")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    measurement TEXT NOT NULL,
    site TEXT NOT NULL,
    gateway TEXT NOT NULL,
    equipment TEXT NOT NULL,
    extra TEXT NOT NULL,
    ts INTEGER NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (measurement, site, gateway, equipment, extra, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_equipment ON points (measurement, gateway, equipment, ts);
CREATE INDEX IF NOT EXISTS points_by_time ON points (measurement, ts);
"""
_INSERT = "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?)"


class SqliteSeriesStore:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._cursor() as cur:
            cur.executescript(_SCHEMA)

    def write(self, points: Sequence[Point]) -> None:
        rows = [_row(p) for p in points]
        with self._cursor() as cur:
            cur.executemany(_INSERT, rows)

    def query_range(self, query: RangeQuery) -> SeriesResult:
        where, params = _where(query.measurement, query.where)
        where += " AND ts >= ? AND ts < ?"
        params += [query.start_ms, query.end_ms]
        with self._cursor() as cur:
            sql = f"SELECT ts, fields FROM points{where} ORDER BY ts LIMIT ?"  # noqa: S608 - fixed column names
            raw = cur.execute(sql, [*params, query.max_points + 1]).fetchall()
            if len(raw) <= query.max_points:
                return SeriesResult([_raw_row(ts, f, query.fields) for ts, f in raw], None)
            interval = bucket_interval_ms(query.start_ms, query.end_ms, query.max_points)
            rows = self._aggregate(cur, query, where, params, interval)
        return SeriesResult(rows, interval)

    def _aggregate(
        self, cur: sqlite3.Cursor, query: RangeQuery, where: str, params: list[Any], interval: int
    ) -> list[Row]:
        sql = (
            "SELECT (ts / ?) * ? AS bucket, j.key, avg(j.value), max(j.value), min(j.value), sum(j.value) "  # noqa: S608
            f"FROM points, json_each(points.fields) AS j{where} GROUP BY bucket, j.key ORDER BY bucket"
        )
        schema = MEASUREMENTS[query.measurement]
        buckets: dict[int, dict[str, float | None]] = {}
        for bucket, key, mean, high, low, total in cur.execute(sql, [interval, interval, *params]):
            if query.fields is not None and key not in query.fields:
                continue
            pick = {"mean": mean, "max": high, "min": low, "sum": total}[schema.aggregate(key)]
            buckets.setdefault(int(bucket), {})[str(key)] = None if pick is None else float(pick)
        return [Row(ts, fields) for ts, fields in buckets.items()]

    def latest(self, measurement: str, where: Mapping[str, str], by: tuple[str, ...]) -> dict[tuple[str, ...], Row]:
        clause, params = _where(measurement, where)
        group = ", ".join(_tag_expr(t) for t in by)
        sql = f"SELECT max(ts), fields, site, gateway, equipment, extra FROM points{clause} GROUP BY {group}"  # noqa: S608
        out: dict[tuple[str, ...], Row] = {}
        with self._cursor() as cur:
            for ts, fields, site, gateway, equipment, extra in cur.execute(sql, params):
                tags = {"site": site, "gateway": gateway, "equipment": equipment, **json.loads(extra)}
                tags = {k: v for k, v in tags.items() if v}
                out[tuple(tags.get(t, "") for t in by)] = Row(int(ts), _fields(fields, None), tags)
        return out

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1")

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        connection = self._connection()
        try:
            with connection:
                yield connection.cursor()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite series store {self.path}: {exc}") from None

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"sqlite series store {self.path}: {exc}") from None
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection


def _row(point: Point) -> tuple[Any, ...]:
    tags = dict(point.tags)
    columns = [tags.pop(name, "") for name in COLUMN_TAGS]
    extra = json.dumps(tags, sort_keys=True, separators=(",", ":"))
    fields = json.dumps(point.fields, separators=(",", ":"))
    return (point.measurement, *columns, extra, point.ts_ms, fields)


def _tag_expr(tag: str) -> str:
    if tag in COLUMN_TAGS:
        return tag
    return f"json_extract(extra, '$.{_safe_key(tag)}')"


def _safe_key(tag: str) -> str:
    if not tag.replace("_", "").isalnum():
        raise ValueError(f"not a tag name: {tag!r}")
    return tag


def _where(measurement: str, where: Mapping[str, str]) -> tuple[str, list[Any]]:
    terms = ["measurement = ?"]
    params: list[Any] = [measurement]
    for tag, value in sorted(where.items()):
        terms.append(f"{_tag_expr(tag)} = ?")
        params.append(value)
    return " WHERE " + " AND ".join(terms), params


def _fields(text: str, wanted: tuple[str, ...] | None) -> dict[str, float | None]:
    values: dict[str, Any] = json.loads(text)
    keys = values.keys() if wanted is None else wanted
    return {k: (None if values.get(k) is None else float(values[k])) for k in keys}


def _raw_row(ts: int, fields: str, wanted: tuple[str, ...] | None) -> Row:
    return Row(int(ts), _fields(fields, wanted))
