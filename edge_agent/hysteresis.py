"""Anomaly start/end with hysteresis (pure logic): `on` anomalous readings in a row open an anomaly,
`off` normal readings in a row close it, so a score hovering at the threshold does not flap."""

from __future__ import annotations

from typing import Literal

Transition = Literal["anomaly_start", "anomaly_end"]


class Hysteresis:
    """State of one equipment's anomaly flag."""

    __slots__ = ("_off", "_on", "_run", "active")

    def __init__(self, on: int, off: int) -> None:
        if on < 1 or off < 1:
            raise ValueError("on and off must be >= 1")
        self._on = on
        self._off = off
        self._run = 0
        self.active = False

    def update(self, is_anomaly: bool) -> Transition | None:
        """Feed one reading's flag; return the transition it causes, if any."""
        if is_anomaly != self.active:
            self._run += 1
        else:
            self._run = 0
        if not self.active and self._run >= self._on:
            self.active, self._run = True, 0
            return "anomaly_start"
        if self.active and self._run >= self._off:
            self.active, self._run = False, 0
            return "anomaly_end"
        return None

    def update_many(self, flags: list[bool]) -> list[tuple[int, Transition]]:
        """Feed readings in order; return (index, transition) pairs. O(1) for an all-normal block while idle."""
        if not self.active and not any(flags):
            self._run = 0
            return []
        out: list[tuple[int, Transition]] = []
        for i, flag in enumerate(flags):
            transition = self.update(flag)
            if transition is not None:
                out.append((i, transition))
        return out
