"""Sensor sources: simulator, CSV replay (SKAB), Modbus TCP. One `Source` protocol (see `base`)."""

from __future__ import annotations

from edge_agent.config import CsvSource, EquipmentSpec, ModbusSource, SimulatorSource
from edge_agent.sources.base import Sample, Source

__all__ = ["Sample", "Source", "build_source"]


def build_source(spec: EquipmentSpec, start_ms: int) -> Source:
    """The source an equipment's config asks for (adapters are imported only when used)."""
    source = spec.source
    if isinstance(source, SimulatorSource):
        from edge_agent.sources.simulator import SimulatorSourceImpl

        return SimulatorSourceImpl(spec.id, source, spec.sample_period_ms, start_ms)
    if isinstance(source, CsvSource):
        from edge_agent.sources.csv_replay import CsvReplaySource

        return CsvReplaySource(spec.id, source)
    if isinstance(source, ModbusSource):
        from edge_agent.sources.modbus import ModbusTcpSource

        return ModbusTcpSource(spec.id, source, spec.sample_period_ms)
    raise AssertionError(f"unknown source {type(source).__name__}")
