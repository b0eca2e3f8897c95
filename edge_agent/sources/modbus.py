"""Modbus TCP polling via pymodbus 3.x: one read per register table per sample, decoded by the register map.

Timestamps are the gateway clock at the read (Modbus registers carry no time). Any pymodbus error, a
timeout or an exception response becomes SourceError (the equipment is marked unavailable and retried).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from edge_agent._errors import SourceError
from edge_agent.config import ModbusSource, RegisterSpec
from edge_agent.sources.base import Sample

_WORDS = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
_FORMAT = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}
MAX_SPAN = 125
"""Most registers one Modbus read may return."""


def decode_register(spec: RegisterSpec, words: list[int]) -> float:
    """Decode one register map entry from its 16-bit words (pure logic)."""
    ordered = words if spec.word_order == "big" else list(reversed(words))
    raw = b"".join(w.to_bytes(2, "big") for w in ordered)
    value = float(struct.unpack(_FORMAT[spec.type], raw)[0])
    return value * spec.scale + spec.offset


def span(registers: list[RegisterSpec]) -> tuple[int, int]:
    """First address and word count covering every register of one table."""
    start = min(r.address for r in registers)
    end = max(r.address + _WORDS[r.type] for r in registers)
    return start, end - start


class ModbusTcpSource:
    def __init__(
        self, equipment: str, spec: ModbusSource, period_ms: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.equipment = equipment
        self._spec = spec
        self._period = period_ms
        self._clock = clock
        self._tables = {t: [r for r in spec.registers if r.table == t] for t in ("holding", "input")}
        self._client: Any = ModbusTcpClient(spec.host, port=spec.port, timeout=spec.timeout_ms / 1000, retries=0)

    def read(self) -> Sample:
        ts = int(self._clock() * 1000)
        values: dict[str, float] = {}
        for table, registers in self._tables.items():
            if registers:
                values.update(self._read_table(table, registers))
        return Sample(self.equipment, ts, values)

    def delay_ms(self) -> float:
        return float(self._period)

    def close(self) -> None:
        self._client.close()

    def _read_table(self, table: str, registers: list[RegisterSpec]) -> dict[str, float]:
        start, count = span(registers)
        if count > MAX_SPAN:
            return {k: v for r in registers for k, v in self._read_table(table, [r]).items()}
        words = self._words(table, start, count)
        return {r.channel: decode_register(r, _slice(words, r.address - start, r)) for r in registers}

    def _words(self, table: str, start: int, count: int) -> list[int]:
        try:
            if not self._client.connected and not self._client.connect():
                raise SourceError(f"cannot connect to {self._spec.host}:{self._spec.port}")
            read = self._client.read_holding_registers if table == "holding" else self._client.read_input_registers
            response = read(start, count=count, device_id=self._spec.device_id)
        except ModbusException as exc:
            self._client.close()
            raise SourceError(f"modbus {self._spec.host}:{self._spec.port}: {exc}") from None
        if response.isError():
            raise SourceError(f"modbus {self._spec.host}:{self._spec.port}: exception response {response}")
        words: list[int] = list(response.registers)
        if len(words) < count:
            raise SourceError(f"modbus returned {len(words)} registers, expected {count}")
        return words


def _slice(words: list[int], offset: int, spec: RegisterSpec) -> list[int]:
    return words[offset : offset + _WORDS[spec.type]]
