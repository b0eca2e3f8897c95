"""Replay of a SKAB-format CSV: `;`-separated, a `datetime` index column, numeric sensor columns.

Timestamps are the file's (sensor clock, read as UTC); the runner waits the recorded gap divided by
`speed` between rows. With `loop`, each pass shifts timestamps by the file's span plus one gap, so
(gateway, equipment, ts) stays unique.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

from edge_agent._errors import SourceError
from edge_agent.config import CsvSource
from edge_agent.sources.base import Sample
from model_export.simulator import SKAB_COLUMNS

_SKIP = {"datetime", "anomaly", "changepoint"}


class CsvReplaySource:
    def __init__(self, equipment: str, spec: CsvSource) -> None:
        self.equipment = equipment
        self._speed = spec.speed
        self._loop = spec.loop
        self._rows = _load(spec.path, spec.columns)
        self._index = 0
        self._shift = 0
        self._gap = 0.0

    def read(self) -> Sample | None:
        if self._index >= len(self._rows):
            if not self._loop or not self._rows:
                return None
            first, last = self._rows[0][0], self._rows[-1][0]
            self._shift += last - first + max(1, _typical_gap(self._rows))
            self._index = 0
        ts, values = self._rows[self._index]
        self._index += 1
        nxt = self._rows[self._index][0] if self._index < len(self._rows) else ts + _typical_gap(self._rows)
        self._gap = max(0.0, (nxt - ts) / self._speed)
        return Sample(self.equipment, ts + self._shift, dict(values))

    def delay_ms(self) -> float:
        return self._gap

    def close(self) -> None:
        return None


def _load(path: Path, columns: dict[str, str] | None) -> list[tuple[int, dict[str, float]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter=";"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"cannot read {path}: {exc}") from None
    if not rows or "datetime" not in rows[0]:
        raise SourceError(f"{path} is not a SKAB CSV (no `datetime` column or no rows)")
    mapping = columns or {c: SKAB_COLUMNS.get(c, c) for c in rows[0] if c not in _SKIP}
    return [_row(path, i, r, mapping) for i, r in enumerate(rows)]


def _row(path: Path, i: int, row: dict[str, str], mapping: dict[str, str]) -> tuple[int, dict[str, float]]:
    try:
        stamp = datetime.fromisoformat(row["datetime"].strip())
    except ValueError:
        raise SourceError(f"{path} row {i + 2}: bad datetime {row['datetime'][:40]!r}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000), {name: _number(row.get(col)) for col, name in mapping.items()}


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _typical_gap(rows: list[tuple[int, dict[str, float]]]) -> int:
    return rows[1][0] - rows[0][0] if len(rows) > 1 else 1000
