"""Sensor sources: Modbus TCP against pymodbus's server, SKAB CSV replay, failure isolation."""

from __future__ import annotations

import pytest

from edge_agent._errors import SourceError
from edge_agent.config import CsvSource, ModbusSource, RegisterSpec, SimulatorSource
from edge_agent.sources.csv_replay import CsvReplaySource
from edge_agent.sources.modbus import ModbusTcpSource, decode_register, span
from edge_agent.sources.simulator import SimulatorSourceImpl
from model_export.simulator import CHANNELS
from tests.agent.helpers import (
    agent_config,
    decoded,
    desired,
    desired_topic,
    readings,
    running_agent,
    states,
    up_filter,
)
from tests.agent.modbus_server import ModbusServer, float32_words
from tests.harness._util import free_port

LEVELS = {"accel1_rms": 0.0268, "accel2_rms": 0.0400, "current": 0.98, "pressure": 0.382638, "temperature": 70.0,
          "thermocouple": 25.0, "voltage": 231.0, "flow_rate_rms": 32.0}


def _register_map() -> list[dict]:
    return [{"channel": ch, "address": 2 * i, "type": "float32"} for i, ch in enumerate(CHANNELS)]


def _registers() -> list[int]:
    return [w for ch in CHANNELS for w in float32_words(LEVELS[ch])]


def test_decode_register_types_and_word_order() -> None:
    assert decode_register(RegisterSpec(channel="a", address=0, type="int16"), [0xFFFF]) == -1.0
    assert decode_register(RegisterSpec(channel="a", address=0, type="uint16", scale=0.1, offset=1), [250]) == 26.0
    big = RegisterSpec(channel="a", address=0, type="uint32")
    little = RegisterSpec(channel="a", address=0, type="uint32", word_order="little")
    assert decode_register(big, [1, 2]) == 65538.0
    assert decode_register(little, [2, 1]) == 65538.0
    assert decode_register(RegisterSpec(channel="a", address=0, type="float32"), float32_words(70.5)) == 70.5
    assert span([RegisterSpec(channel="a", address=4, type="float32"),
                 RegisterSpec(channel="b", address=10, type="int16")]) == (4, 7)


def test_modbus_source_reads_the_register_map_from_a_pymodbus_server() -> None:
    with ModbusServer(_registers()) as server:
        spec = ModbusSource(type="modbus", host="127.0.0.1", port=server.port,
                            registers=[RegisterSpec(**r) for r in _register_map()])
        source = ModbusTcpSource("m1", spec, period_ms=10)
        try:
            sample = source.read()
        finally:
            source.close()
    assert sample.equipment == "m1"
    for ch in CHANNELS:
        assert sample.values[ch] == pytest.approx(LEVELS[ch], rel=1e-6)


def test_modbus_source_error_when_nothing_listens() -> None:
    spec = ModbusSource(type="modbus", host="127.0.0.1", port=free_port(), timeout_ms=200,
                        registers=[RegisterSpec(channel="a", address=0)])
    source = ModbusTcpSource("m1", spec, period_ms=10)
    with pytest.raises(SourceError):
        source.read()
    source.close()


def test_csv_replay_skab_format_with_speed(tmp_path) -> None:
    path = tmp_path / "run.csv"
    header = "datetime;Accelerometer1RMS;Current;anomaly;changepoint"
    rows = ["2020-03-09 10:14:33;0.02;1.0;0.0;0.0", "2020-03-09 10:14:34;0.03;bad;0.0;0.0",
            "2020-03-09 10:14:36;0.04;1.2;1.0;0.0"]
    path.write_text("\n".join([header, *rows]) + "\n")
    source = CsvReplaySource("c1", CsvSource(type="csv", path=path, speed=4.0))
    first = source.read()
    assert first is not None and first.values == {"accel1_rms": 0.02, "current": 1.0}
    assert source.delay_ms() == 250.0  # 1 s recorded gap at 4x
    second = source.read()
    assert second is not None and second.ts - first.ts == 1000 and second.values["current"] != second.values["current"]
    assert source.delay_ms() == 500.0
    third = source.read()
    assert third is not None and third.values["accel1_rms"] == 0.04
    assert source.read() is None


def test_csv_replay_loop_keeps_timestamps_unique(tmp_path) -> None:
    path = tmp_path / "run.csv"
    path.write_text("datetime;Current\n2020-01-01 00:00:00;1\n2020-01-01 00:00:01;2\n")
    source = CsvReplaySource("c1", CsvSource(type="csv", path=path, loop=True))
    stamps = [s.ts for s in (source.read() for _ in range(5)) if s is not None]
    assert len(set(stamps)) == 5 and stamps == sorted(stamps)


def test_simulator_source_is_deterministic_and_follows_the_fault_schedule() -> None:
    spec = SimulatorSource(type="simulator", seed=4,
                           faults=[{"kind": "leak", "start": 3, "duration": 2}])  # type: ignore[list-item]
    a = SimulatorSourceImpl("s1", spec, period_ms=100, start_ms=1_000_000)
    b = SimulatorSourceImpl("s1", spec, period_ms=100, start_ms=1_000_000)
    rows_a = [a.read() for _ in range(6)]
    rows_b = [b.read() for _ in range(6)]
    assert rows_a == rows_b
    assert [r.ts for r in rows_a] == [1_000_000 + 100 * i for i in range(6)]


@pytest.mark.integration
def test_modbus_equipment_scored_and_a_dead_source_does_not_stop_the_others(tmp_path, pki, mosquitto, mqtt_client,
                                                                          keys_dir, bundles) -> None:
    gateway = pki.unique_gateway_id("mb")
    with ModbusServer(_registers()) as server:
        equipment = [
            {"id": "modbus-ok", "sample_period_ms": 5, "max_readings": 40,
             "source": {"type": "modbus", "host": "127.0.0.1", "port": server.port, "registers": _register_map()}},
            {"id": "modbus-dead", "sample_period_ms": 5,
             "source": {"type": "modbus", "host": "127.0.0.1", "port": free_port(), "timeout_ms": 200,
                        "registers": _register_map()}},
        ]
        config = agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub",
                              bundles, equipment)
        with mqtt_client(pki.hub) as hub:
            hub.subscribe(up_filter(gateway))
            hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
            with running_agent(config):
                hub.wait_for(lambda ms: len(readings(ms)) >= 31, what="modbus readings scored")

                def dead_reported(ms):
                    return any(not e.available for s in states(ms) for e in s.equipment if e.equipment == "modbus-dead")

                hub.wait_for(dead_reported, what="dead equipment reported unavailable")
            batches = decoded(hub.received(up_filter(gateway)), "scores")
            values = batches[0].readings[0].values
            assert values["temperature"] == pytest.approx(70.0)
            events = [e for b in decoded(hub.received(up_filter(gateway)), "events") for e in b.events]
            assert any(e.kind == "source_unavailable" and e.equipment == "modbus-dead" for e in events)
            assert {e for e, _, _ in readings(hub.received(up_filter(gateway)))} == {"modbus-ok"}
            hub.publish(desired_topic(gateway), b"", retain=True)
