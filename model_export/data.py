"""Reading sensor tables from CSV (SKAB-style and plain), numpy + csv only (no pandas, no scikit-learn).

Accepted files: one header row; separator `;` or `,` (taken from the header line); an optional leading
time column (`datetime`, `timestamp`, `time`, `date`, `ts`) which is skipped; label columns `anomaly`
(kept as labels) and `changepoint` (ignored) are never features; every other column is a numeric channel.
SKAB column names are mapped to Vigie channel names (`SKAB_COLUMNS`); other names are lower-cased with
non-identifier characters replaced by `_`. Empty or non-numeric cells are a DataError naming the cell.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from model_export._errors import DataError
from model_export.simulator import CHANNELS, SKAB_COLUMNS, SimBatch

LABEL_COLUMN = "anomaly"
IGNORED_COLUMNS = frozenset({"changepoint"})
TIME_COLUMNS = frozenset({"datetime", "timestamp", "time", "date", "ts", "ts_ms"})
MAX_CSV_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Table:
    """Rows of one stream (a file, an equipment): `values[N, C]` in `channels` order, optional labels."""

    source: str
    channels: tuple[str, ...]
    values: NDArray[np.float64]
    labels: NDArray[np.int8] | None = None

    @property
    def rows(self) -> int:
        return int(self.values.shape[0])

    def select(self, channels: Sequence[str]) -> Table:
        """The same rows with columns reordered/selected as `channels` (DataError if one is missing)."""
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise DataError(f"{self.source}: missing channels {missing[:5]}")
        idx = [self.channels.index(c) for c in channels]
        return Table(self.source, tuple(channels), self.values[:, idx], self.labels)

    def head(self, n: int) -> Table:
        labels = None if self.labels is None else self.labels[:n]
        return Table(self.source, self.channels, self.values[:n], labels)

    def tail(self, start: int) -> Table:
        labels = None if self.labels is None else self.labels[start:]
        return Table(self.source, self.channels, self.values[start:], labels)


def channel_name(column: str) -> str:
    """Vigie channel name of a CSV column: SKAB mapping, else a sanitised identifier."""
    column = column.strip()
    if column in SKAB_COLUMNS:
        return SKAB_COLUMNS[column]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", column.lower()).strip("_.-")
    if not name:
        raise DataError(f"column {column!r} has no usable name")
    return name[:64].rstrip("_.-")


def read_csv(path: Path) -> Table:
    """Read one CSV file (see the module docstring)."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise DataError(f"{path}: larger than {MAX_CSV_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return parse_csv(text, source=str(path))


def parse_csv(text: str, source: str = "<csv>") -> Table:
    lines = text.splitlines()
    if len(lines) < 2:
        raise DataError(f"{source}: needs a header and at least one row")
    delimiter = ";" if ";" in lines[0] else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    channels, label = _column_plan(header, source)
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    values = _numeric(body, [i for i, _ in channels], source)
    labels = None
    if label is not None:
        labels = (_numeric(body, [label], source)[:, 0] > 0.5).astype(np.int8)
    return Table(source, tuple(name for _, name in channels), values, labels)


def _column_plan(header: list[str], source: str) -> tuple[list[tuple[int, str]], int | None]:
    """(column index, channel name) of every channel column, and the index of the label column."""
    channels: list[tuple[int, str]] = []
    label: int | None = None
    for i, col in enumerate(header):
        low = col.lower()
        if low == LABEL_COLUMN:
            label = i
        elif low in IGNORED_COLUMNS or (i == 0 and low in TIME_COLUMNS):
            continue
        else:
            channels.append((i, channel_name(col)))
    names = [n for _, n in channels]
    if not names:
        raise DataError(f"{source}: no channel columns")
    if len(set(names)) != len(names):
        raise DataError(f"{source}: duplicate channel names after mapping: {names}")
    return channels, label


def _numeric(body: list[list[str]], columns: list[int], source: str) -> NDArray[np.float64]:
    out = np.empty((len(body), len(columns)), dtype=np.float64)
    for r, row in enumerate(body):
        for c, col in enumerate(columns):
            out[r, c] = _cell(row, col, r + 2, source)
    return out


def _cell(row: list[str], col: int, line: int, source: str) -> float:
    try:
        value = float(row[col])
    except (IndexError, ValueError):
        cell = row[col][:40] if col < len(row) else "<missing>"
        raise DataError(f"{source}:{line}: column {col + 1} is not a number: {cell!r}") from None
    if not np.isfinite(value):
        raise DataError(f"{source}:{line}: column {col + 1} is not finite")
    return value


def read_tables(paths: Sequence[Path]) -> list[Table]:
    """Read files, expanding directories to their `*.csv` files (sorted, numerically where names allow)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.csv"), key=_natural_key) if path.is_dir() else [path])
    if not files:
        raise DataError("no CSV files found")
    return [read_csv(f) for f in files]


def _natural_key(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 30, path.name)


def table_from_simulation(batch: SimBatch, source: str = "simulator") -> Table:
    return Table(source, CHANNELS, batch.values, batch.labels)


def common_channels(tables: Sequence[Table]) -> tuple[str, ...]:
    """The first table's channels; every other table must have them all (they are reordered to match)."""
    if not tables:
        raise DataError("no data")
    channels = tables[0].channels
    for t in tables[1:]:
        t.select(channels)
    return channels


def fingerprint(tables: Sequence[Table]) -> str:
    """SHA-256 over channel names and float64 little-endian values of every table, in order."""
    digest = hashlib.sha256()
    for t in tables:
        digest.update(("\x1f".join(t.channels) + "\x1e").encode())
        digest.update(np.ascontiguousarray(t.values, dtype="<f8").tobytes())
    return digest.hexdigest()
