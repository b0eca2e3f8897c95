"""The pump simulator: determinism, streaming == batch, labelled faults with visible effects."""

from __future__ import annotations

import numpy as np
import pytest

from model_export.simulator import CHANNELS, SKAB_COLUMNS, Fault, FaultEvent, PumpSimulator


def _values(sim: PumpSimulator, n: int) -> np.ndarray:
    return sim.batch(n).values


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b, c = PumpSimulator(seed=5), PumpSimulator(seed=5), PumpSimulator(seed=6)
    first = _values(a, 700)
    assert np.array_equal(first, _values(b, 700))
    assert not np.array_equal(first, _values(c, 700))


def test_streaming_equals_batch() -> None:
    faults = [FaultEvent(Fault.CAVITATION, 100, 50), FaultEvent(Fault.STUCK_SENSOR, 300, 40, channel="voltage")]
    streamed = PumpSimulator(seed=1, faults=faults)
    batch = PumpSimulator(seed=1, faults=faults).batch(600)
    readings = [streamed.next_reading() for _ in range(600)]
    assert np.array_equal(np.array([[r.values[c] for c in CHANNELS] for r in readings]), batch.values)
    assert [r.label for r in readings] == batch.labels.tolist()
    assert [r.fault for r in readings] == batch.faults
    assert np.all(np.diff(batch.ts_ms) == 1000)


def test_mixed_streaming_and_batch_continue_the_same_sequence() -> None:
    whole = PumpSimulator(seed=2).batch(600).values
    sim = PumpSimulator(seed=2)
    head = [sim.next_reading() for _ in range(300)]
    assert head[0].values["flow_rate_rms"] == whole[0, 7]
    assert np.array_equal(sim.batch(300).values, whole[300:])


def test_normal_rows_have_skab_like_levels() -> None:
    x = PumpSimulator(seed=0).batch(2000).values
    mean = dict(zip(CHANNELS, x.mean(axis=0), strict=True))
    assert 0.02 < mean["accel1_rms"] < 0.035
    assert 0.5 < mean["current"] < 1.5
    assert 200 < mean["voltage"] < 260
    assert 30 < mean["flow_rate_rms"] < 34
    assert 60 < mean["temperature"] < 80
    assert len(np.unique(x[:, 3])) < 12  # pressure is coarsely quantised, as in SKAB
    assert set(SKAB_COLUMNS.values()) == set(CHANNELS)


@pytest.mark.parametrize("kind", list(Fault))
def test_fault_rows_are_labelled_exactly(kind: Fault) -> None:
    event = FaultEvent(kind, 200, 120, channel="current")
    batch = PumpSimulator(seed=3, faults=[event]).batch(500)
    expected = np.zeros(500, dtype=np.int8)
    expected[200:320] = 1
    assert np.array_equal(batch.labels, expected)
    assert {f for f, lab in zip(batch.faults, batch.labels, strict=True) if lab} == {kind.value}


def _effect(kind: Fault, channel: int, stat: str = "mean") -> float:
    """Change of a statistic of one channel, fault window vs the same rows without the fault."""
    event = FaultEvent(kind, 200, 200, channel="current")
    faulty = PumpSimulator(seed=4, faults=[event]).batch(400).values[240:400, channel]
    clean = PumpSimulator(seed=4).batch(400).values[240:400, channel]
    op = np.mean if stat == "mean" else np.std
    return float(op(faulty) - op(clean))


def test_faults_move_the_expected_channels() -> None:
    assert _effect(Fault.VALVE_CLOSURE, 7) < -1.0  # flow drops
    assert _effect(Fault.CAVITATION, 1) > 0.002  # vibration up
    assert _effect(Fault.ROTOR_IMBALANCE, 0) > 0.001
    assert _effect(Fault.LEAK, 7) < -0.5
    assert _effect(Fault.STUCK_SENSOR, 2, "std") < -0.2  # current frozen
    assert _effect(Fault.DRIFTING_SENSOR, 2) > 0.3


def test_random_faults_are_deterministic_and_labelled() -> None:
    a, b = PumpSimulator(seed=9, fault_rate=0.003), PumpSimulator(seed=9, fault_rate=0.003)
    ba, bb = a.batch(4000), b.batch(4000)
    assert np.array_equal(ba.labels, bb.labels)
    assert a.faults == b.faults
    assert a.faults
    started = [e for e in a.faults if e.start < 4000]
    assert started
    for event in started:
        assert ba.labels[event.start] == 1
        assert ba.faults[event.start] == event.kind.value


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        FaultEvent(Fault.LEAK, -1, 10)
    with pytest.raises(ValueError):
        FaultEvent(Fault.STUCK_SENSOR, 0, 10, channel="nope")
    with pytest.raises(ValueError):
        PumpSimulator(fault_rate=1.5)
