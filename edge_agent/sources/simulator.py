"""Simulated pump (model_export.simulator) with a fault schedule: deterministic by seed."""

from __future__ import annotations

from edge_agent.config import SimulatorSource
from edge_agent.sources.base import Sample
from model_export.simulator import Fault, FaultEvent, PumpSimulator


class SimulatorSourceImpl:
    """Readings of a simulated pump; timestamps start at `start_ms` and advance by the sample period."""

    def __init__(self, equipment: str, spec: SimulatorSource, period_ms: int, start_ms: int) -> None:
        faults = [FaultEvent(Fault(f.kind), f.start, f.duration, f.severity, f.channel) for f in spec.faults]
        self.equipment = equipment
        self._period = period_ms
        self._sim = PumpSimulator(
            seed=spec.seed, faults=faults, fault_rate=spec.fault_rate, start_ms=start_ms, period_ms=period_ms
        )

    def read(self) -> Sample:
        reading = self._sim.next_reading()
        return Sample(self.equipment, reading.ts_ms, reading.values)

    def delay_ms(self) -> float:
        return float(self._period)

    def close(self) -> None:
        return None
