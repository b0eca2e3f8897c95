"""The store interface and the value types that cross it. Timestamps are epoch milliseconds everywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

FieldValue = float | int | bool
Agg = Literal["mean", "max", "min", "sum"]


class Point(NamedTuple):
    """One point. (measurement, tags, ts_ms) is its key: writing the same key again overwrites it.

    A NamedTuple: ingest makes hundreds of thousands per second, and tuples are the cheapest immutable record.
    """

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: Mapping[str, FieldValue]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class RangeQuery:
    """Points of one measurement matching tag equalities in [start_ms, end_ms), at most `max_points` rows.

    When more points match, the store aggregates them into equal time buckets aligned on the epoch
    (bucket start = ts - ts % interval) with the per-field aggregate of `schema.aggregate`.
    """

    measurement: str
    where: Mapping[str, str]
    start_ms: int
    end_ms: int
    max_points: int
    fields: tuple[str, ...] | None = None
    """None: every field of the measurement."""


@dataclass(frozen=True, slots=True)
class Row:
    ts_ms: int
    fields: dict[str, float | None]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SeriesResult:
    rows: list[Row]
    interval_ms: int | None
    """None when `rows` are the raw points; else the bucket width they were aggregated to."""


class SeriesStore(Protocol):
    """What ingest writes to and the API reads from. Errors: StoreUnavailable (retry), StoreRejected (data)."""

    name: str

    def write(self, points: Sequence[Point]) -> None:
        """Write all points (idempotent per key) or raise; a partial success is reported as an error."""

    def query_range(self, query: RangeQuery) -> SeriesResult:
        """Raw points if at most `max_points` match, else bucket aggregates (see RangeQuery)."""

    def latest(self, measurement: str, where: Mapping[str, str], by: tuple[str, ...]) -> dict[tuple[str, ...], Row]:
        """The newest point per distinct value of the `by` tags, with those tags in `Row.tags`."""

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def close(self) -> None: ...
