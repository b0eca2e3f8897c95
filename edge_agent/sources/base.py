"""The sensor source interface: one implementation per module in this package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of one equipment: sensor-clock timestamp (ms) and values by channel."""

    equipment: str
    ts: int
    values: dict[str, float]


class Source(Protocol):
    """Produces readings of one equipment, one `read` at a time.

    `read` raises SourceError when the sensor cannot be read (the runner marks the equipment unavailable
    and retries), and returns None when a finite source (a CSV replay) is exhausted.
    `delay_ms` is how long the runner waits before the next `read` (the sample period, or for a replay the
    recorded gap divided by the speed factor).
    """

    def read(self) -> Sample | None: ...

    def delay_ms(self) -> float: ...

    def close(self) -> None: ...
