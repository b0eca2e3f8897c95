"""InfluxDB line protocol and InfluxQL text (pure). Timestamps in milliseconds (`precision=ms`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hub.series.base import Agg, FieldValue, Point

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "\\": "\\\\", "\n": r"\n"})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\", "\n": r"\n"})
_INFLUX_AGG = {"mean": "mean", "max": "max", "min": "min", "sum": "sum"}


_CACHE_LIMIT = 100_000
_prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
_keys: dict[str, str] = {}


def field_value(value: FieldValue) -> str:
    kind = type(value)
    if kind is float:
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return f"{value}i"
    return repr(float(value))


def _prefix(measurement: str, tags: tuple[tuple[str, str], ...]) -> str:
    """`measurement,k=v,...` escaped; cached because a few series carry most points."""
    key = (measurement, tags)
    cached = _prefixes.get(key)
    if cached is None:
        if len(_prefixes) >= _CACHE_LIMIT:
            _prefixes.clear()
        head = measurement.translate(_MEASUREMENT_ESCAPES)
        cached = head + "".join(f",{k.translate(_KEY_ESCAPES)}={v.translate(_KEY_ESCAPES)}" for k, v in tags if v)
        _prefixes[key] = cached
    return cached


def _field_key(name: str) -> str:
    cached = _keys.get(name)
    if cached is None:
        if len(_keys) >= _CACHE_LIMIT:
            _keys.clear()
        cached = _keys[name] = name.translate(_KEY_ESCAPES)
    return cached


def line(point: Point) -> str:
    """One line; empty tag values are left out (line protocol has no empty tag). The hot path of ingest."""
    measurement, tags, fields, ts_ms = point
    prefix = _prefixes.get((measurement, tags)) or _prefix(measurement, tags)
    parts: list[str] = []
    for key, value in fields.items():
        name = _keys.get(key) or _field_key(key)
        kind = type(value)
        if kind is float:
            parts.append(f"{name}={value!r}")
        elif kind is int:
            parts.append(f"{name}={value}i")
        else:
            parts.append(f"{name}={field_value(value)}")
    return f"{prefix} {','.join(parts)} {ts_ms}"


def lines(points: Iterable[Point]) -> bytes:
    return "\n".join([line(p) for p in points]).encode("utf-8")


def ident(name: str) -> str:
    """An InfluxQL identifier, double-quoted."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """An InfluxQL string literal, single-quoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where_clause(where: Mapping[str, str], start_ms: int | None = None, end_ms: int | None = None) -> str:
    terms = [f"{ident(k)} = {literal(v)}" for k, v in sorted(where.items())]
    if start_ms is not None:
        terms.append(f"time >= {int(start_ms)}ms")
    if end_ms is not None:
        terms.append(f"time < {int(end_ms)}ms")
    return " WHERE " + " AND ".join(terms) if terms else ""


def select_fields(fields: Iterable[str] | None) -> str:
    return "*" if fields is None else ", ".join(ident(f) for f in fields)


def select_aggregates(fields: Iterable[str] | None, agg: Mapping[str, Agg], default: Agg) -> str:
    if fields is None:
        return f"{_INFLUX_AGG[default]}(*)"
    return ", ".join(f"{_INFLUX_AGG[agg.get(f, default)]}({ident(f)}) AS {ident(f)}" for f in fields)


# Statement builders: every name goes through ident() and every value through literal(), hence the noqa.
def select_raw(measurement: str, fields: Iterable[str] | None, where: str, limit: int) -> str:
    return f"SELECT {select_fields(fields)} FROM {ident(measurement)}{where} ORDER BY time ASC LIMIT {int(limit)}"  # noqa: S608


def select_buckets(measurement: str, select: str, where: str, interval_ms: int) -> str:
    return f"SELECT {select} FROM {ident(measurement)}{where} GROUP BY time({int(interval_ms)}ms) fill(none)"  # noqa: S608


def select_latest(measurement: str, fields: Iterable[str] | None, where: str, by: Iterable[str]) -> str:
    group = ", ".join(ident(t) for t in by)
    head = f"SELECT {select_fields(fields)} FROM {ident(measurement)}{where}"  # noqa: S608
    return f"{head} GROUP BY {group} ORDER BY time DESC LIMIT 1"
