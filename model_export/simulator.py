"""A pump-testbed simulator shaped like SKAB's water-circulation rig (8 channels), deterministic by seed.

Normal operation: each channel has the level and noise SKAB shows in its valve runs (first 400 rows):
vibration RMS with short memory, motor current and voltage with large, correlated ripple, a pressure
quantised in steps of ~0.328 bar, a motor temperature and a fluid temperature that drift slowly
(unlabelled: normal behaviour the models must tolerate), a flow rate quantised to whole l/min.

Faults (labelled 1 for every row between their start and end, the ramp included):

| fault             | effect                                                              |
|-------------------|---------------------------------------------------------------------|
| valve_closure     | flow drops ~1.8 l/min and fluctuates more, pressure up, current down |
| cavitation        | vibration up with bursts, flow erratic and lower, pressure down     |
| rotor_imbalance   | vibration up with a periodic component, current and temperature up  |
| leak              | flow and pressure fall slowly over the whole fault                  |
| stuck_sensor      | one channel repeats the value it had when the fault started         |
| drifting_sensor   | one channel drifts linearly away (up to ~6 sigma at severity 1)     |

Streaming (`next_reading`) and batch (`batch`) consume the same internal row sequence, so
`batch(n)` equals `n` calls of `next_reading()` from the same state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

CHANNELS: tuple[str, ...] = (
    "accel1_rms",
    "accel2_rms",
    "current",
    "pressure",
    "temperature",
    "thermocouple",
    "voltage",
    "flow_rate_rms",
)
"""The simulator's channels, in SKAB's column order."""

SKAB_COLUMNS: dict[str, str] = {
    "Accelerometer1RMS": "accel1_rms",
    "Accelerometer2RMS": "accel2_rms",
    "Current": "current",
    "Pressure": "pressure",
    "Temperature": "temperature",
    "Thermocouple": "thermocouple",
    "Voltage": "voltage",
    "Volume Flow RateRMS": "flow_rate_rms",
}
"""SKAB CSV column name -> Vigie channel name."""

UNITS: dict[str, str] = {
    "accel1_rms": "g",
    "accel2_rms": "g",
    "current": "A",
    "pressure": "bar",
    "temperature": "degC",
    "thermocouple": "degC",
    "voltage": "V",
    "flow_rate_rms": "l/min",
}

_LEVEL = (0.0268, 0.0400, 0.98, 0.06, 70.0, 25.0, 231.0, 32.1)
_SIGMA = (0.0003, 0.0009, 0.27, 0.26, 0.45, 0.03, 10.5, 0.40)
_PRESSURE_STEP, _PRESSURE_OFFSET = 0.327927, 0.054711
_CHUNK = 256
_NOISE = 12


class Fault(StrEnum):
    VALVE_CLOSURE = "valve_closure"
    CAVITATION = "cavitation"
    ROTOR_IMBALANCE = "rotor_imbalance"
    LEAK = "leak"
    STUCK_SENSOR = "stuck_sensor"
    DRIFTING_SENSOR = "drifting_sensor"


SENSOR_FAULTS = frozenset({Fault.STUCK_SENSOR, Fault.DRIFTING_SENSOR})


@dataclass(frozen=True)
class FaultEvent:
    """A fault from row `start` (0-based step index) for `duration` rows.

    `channel` names the sensor of a stuck/drifting-sensor fault (ignored for process faults).
    """

    kind: Fault
    start: int
    duration: int
    severity: float = 1.0
    channel: str = "flow_rate_rms"

    def __post_init__(self) -> None:
        if self.start < 0 or self.duration < 1 or self.severity <= 0:
            raise ValueError("fault needs start >= 0, duration >= 1 and severity > 0")
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")

    @property
    def end(self) -> int:
        return self.start + self.duration

    def active(self, step: int) -> bool:
        return self.start <= step < self.end


@dataclass(frozen=True)
class SimReading:
    """One simulated reading: timestamp (ms), values by channel, label (1 = fault) and fault name."""

    ts_ms: int
    values: dict[str, float]
    label: int
    fault: str


@dataclass(frozen=True)
class SimBatch:
    """`n` readings: `values[n, 8]` in `CHANNELS` order, `labels[n]` (0/1), `faults[n]` ("" = normal)."""

    ts_ms: NDArray[np.int64]
    values: NDArray[np.float64]
    labels: NDArray[np.int8]
    faults: list[str]
    channels: tuple[str, ...] = CHANNELS


@dataclass
class _State:
    """Memory of the slow processes between steps."""

    ar: list[float] = field(default_factory=lambda: [0.0] * 4)
    walk: list[float] = field(default_factory=lambda: [0.0, 0.0])
    stuck: dict[int, float] = field(default_factory=dict)


class PumpSimulator:
    """Deterministic SKAB-like pump simulator.

    `faults` is an explicit schedule; with `fault_rate > 0` random faults are added as well (a new one may
    start, with that probability per row, whenever none is active). Same seed and arguments -> same rows.
    """

    def __init__(
        self,
        seed: int = 0,
        faults: tuple[FaultEvent, ...] | list[FaultEvent] = (),
        fault_rate: float = 0.0,
        start_ms: int = 1_700_000_000_000,
        period_ms: int = 1000,
    ) -> None:
        if not 0.0 <= fault_rate < 1.0 or period_ms < 1:
            raise ValueError("fault_rate must be in [0, 1) and period_ms >= 1")
        self._rng = np.random.default_rng([seed, 1])
        self._fault_rng = np.random.default_rng([seed, 2])
        setup = np.random.default_rng([seed, 0])
        self._level = [lv + 0.15 * sd * float(setup.standard_normal()) for lv, sd in zip(_LEVEL, _SIGMA, strict=True)]
        self._phase = [float(p) for p in setup.uniform(0.0, 2 * math.pi, size=2)]
        self._faults: list[FaultEvent] = sorted(faults, key=lambda f: f.start)
        self._fault_rate = fault_rate
        self._start_ms, self._period_ms = start_ms, period_ms
        self._state = _State()
        self._step = 0
        self._pending: list[SimReading] = []

    @property
    def faults(self) -> tuple[FaultEvent, ...]:
        """Every fault scheduled so far (explicit and random), in start order."""
        return tuple(self._faults)

    @property
    def step(self) -> int:
        """Index of the next reading to be returned."""
        return self._step - len(self._pending)

    def next_reading(self) -> SimReading:
        """Streaming API: the next reading."""
        if not self._pending:
            self._pending = self._generate(_CHUNK)[::-1]
        return self._pending.pop()

    def batch(self, n: int) -> SimBatch:
        """Batch API: the next `n` readings as arrays (same rows `n` calls of `next_reading` give)."""
        rows = [self.next_reading() for _ in range(n)]
        values = np.array([[r.values[c] for c in CHANNELS] for r in rows], dtype=np.float64).reshape(n, len(CHANNELS))
        return SimBatch(
            ts_ms=np.array([r.ts_ms for r in rows], dtype=np.int64),
            values=values,
            labels=np.array([r.label for r in rows], dtype=np.int8),
            faults=[r.fault for r in rows],
        )

    def _generate(self, n: int) -> list[SimReading]:
        noise = self._rng.standard_normal((n, _NOISE)).tolist()
        draws = self._fault_rng.random((n, 5)).tolist()
        out = []
        for k in range(n):
            step = self._step
            self._maybe_start_fault(step, draws[k])
            fault = next((f for f in self._faults if f.active(step)), None)
            values = self._values(step, noise[k], fault)
            ts = self._start_ms + step * self._period_ms
            out.append(SimReading(ts, values, int(fault is not None), fault.kind.value if fault else ""))
            self._step += 1
        return out

    def _maybe_start_fault(self, step: int, u: list[float]) -> None:
        if self._fault_rate <= 0 or u[0] >= self._fault_rate:
            return
        if any(f.end > step for f in self._faults):
            return
        kinds = list(Fault)
        kind = kinds[min(int(u[1] * len(kinds)), len(kinds) - 1)]
        channel = CHANNELS[min(int(u[3] * len(CHANNELS)), len(CHANNELS) - 1)]
        event = FaultEvent(kind, step, 60 + int(u[2] * 240), 0.7 + 0.6 * u[4], channel)
        self._faults.append(event)

    def _values(self, step: int, z: list[float], fault: FaultEvent | None) -> dict[str, float]:
        v = self._normal(step, z)
        if fault is not None:
            _apply_process_fault(v, fault, step, z)
        out = _quantise(v, z)
        if fault is not None and fault.kind in SENSOR_FAULTS:
            self._apply_sensor_fault(out, fault, step)
        return dict(zip(CHANNELS, out, strict=True))

    def _normal(self, step: int, z: list[float]) -> list[float]:
        st, lv = self._state, self._level
        st.ar[0] = 0.5 * st.ar[0] + math.sqrt(1 - 0.25) * z[0]
        st.ar[1] = 0.6 * st.ar[1] + math.sqrt(1 - 0.36) * z[1]
        st.ar[2] = 0.97 * st.ar[2] + math.sqrt(1 - 0.97**2) * z[4]
        st.ar[3] = 0.99 * st.ar[3] + math.sqrt(1 - 0.99**2) * z[5]
        st.walk[0] = 0.9995 * st.walk[0] + 0.02 * z[10]
        st.walk[1] = 0.9995 * st.walk[1] + 0.002 * z[11]
        slow_t = 1.2 * math.sin(2 * math.pi * step / 5400 + self._phase[0]) + st.walk[0]
        slow_c = 0.25 * math.sin(2 * math.pi * step / 9000 + self._phase[1]) + st.walk[1]
        return [
            lv[0] + _SIGMA[0] * st.ar[0],
            lv[1] + _SIGMA[1] * st.ar[1],
            lv[2] + _SIGMA[2] * z[2],
            lv[3] + _SIGMA[3] * z[3],
            lv[4] + slow_t + _SIGMA[4] * st.ar[2],
            lv[5] + slow_c + _SIGMA[5] * st.ar[3],
            lv[6] + _SIGMA[6] * (0.36 * z[2] + 0.933 * z[6]),
            lv[7] + _SIGMA[7] * z[7],
        ]

    def _apply_sensor_fault(self, out: list[float], fault: FaultEvent, step: int) -> None:
        idx = CHANNELS.index(fault.channel)
        if fault.kind is Fault.STUCK_SENSOR:
            key = fault.start * 64 + idx
            out[idx] = self._state.stuck.setdefault(key, out[idx])
        else:
            out[idx] += 6.0 * _SIGMA[idx] * fault.severity * (step - fault.start + 1) / fault.duration


def _ramp(fault: FaultEvent, step: int) -> float:
    length = max(1, min(20, fault.duration // 4))
    return min(1.0, (step - fault.start + 1) / length)


def _apply_process_fault(v: list[float], fault: FaultEvent, step: int, z: list[float]) -> None:
    s = fault.severity * _ramp(fault, step)
    if fault.kind is Fault.VALVE_CLOSURE:
        v[7] += -1.8 * s + 0.6 * s * z[9]
        v[3] += 0.2 * s
        v[2] -= 0.05 * s
        v[4] += 0.3 * s
    elif fault.kind is Fault.CAVITATION:
        v[0] += 0.0015 * s * (1 + abs(z[9]))
        v[1] += 0.003 * s * (1 + abs(z[8]))
        v[7] += -0.8 * s + 1.2 * s * z[9]
        v[3] -= 0.3 * s
    elif fault.kind is Fault.ROTOR_IMBALANCE:
        wobble = 1 + 0.5 * math.sin(2 * math.pi * step / 7)
        v[0] += 0.0015 * s * wobble
        v[1] += 0.004 * s * wobble
        v[2] += 0.08 * s
        v[4] += 0.8 * s
    elif fault.kind is Fault.LEAK:
        slow = fault.severity * (step - fault.start + 1) / fault.duration
        v[7] -= 3.0 * slow
        v[3] -= 0.5 * slow


def _quantise(v: list[float], z: list[float]) -> list[float]:
    out = list(v)
    out[3] = _PRESSURE_OFFSET + _PRESSURE_STEP * round((v[3] - _PRESSURE_OFFSET) / _PRESSURE_STEP)
    out[7] = round(v[7]) + 0.003 * z[8]
    return out
