"""pymodbus's own TCP server in a background thread, for the Modbus source tests."""

from __future__ import annotations

import asyncio
import struct
import threading
from typing import Any

from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusTcpServer

from tests.harness._util import free_port, wait_until


def float32_words(value: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


class ModbusServer:
    """Holding registers `registers` (address 0 upwards) of device 1 on 127.0.0.1:`port`."""

    def __init__(self, registers: list[int]) -> None:
        self.port = free_port()
        block = ModbusSequentialDataBlock(1, list(registers) + [0] * 8)
        self._context = ModbusServerContext(devices={1: ModbusDeviceContext(hr=block)}, single=False)
        self._loop = asyncio.new_event_loop()
        self._server: Any = None
        self._thread = threading.Thread(target=self._run, name="modbus-server", daemon=True)

    def __enter__(self) -> ModbusServer:
        self._thread.start()
        wait_until(lambda: self._server is not None and self._server.transport is not None, what="modbus server")
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._server = ModbusTcpServer(self._context, address=("127.0.0.1", self.port))
        await self._server.serve_forever()
