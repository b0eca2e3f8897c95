"""End to end over a real Mosquitto (mTLS): scored batches complete and in order, desired state follows."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest

from contracts.messages import Sketch
from tests.agent.helpers import (
    agent_config,
    decoded,
    desired,
    desired_topic,
    readings,
    running_agent,
    score_batches,
    simulated,
    states,
    up_filter,
    wait_for,
)

pytestmark = pytest.mark.integration

N = 200


def expected_count(trained, n: int = N) -> int:
    return n - (trained.manifest.window.size - 1)


def test_two_equipment_publish_complete_ordered_batches(tmp_path: Path, pki, mosquitto, mqtt_client, trained,
                                                        keys_dir: Path, bundles: Path) -> None:
    gateway = pki.unique_gateway_id("agt")
    cert = pki.issue(gateway)
    config = agent_config(tmp_path / "cfg", gateway, mosquitto, cert, keys_dir / "release.pub", bundles,
                          [simulated("pump-a", 1, max_readings=N), simulated("pump-b", 2, max_readings=N)],
                          scoring={"sketch_window_ms": 100})
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config) as agent:
            hub.wait_for(lambda ms: len(readings(ms)) >= 2 * expected_count(trained), timeout=20,
                         what="every scored reading")
            got = readings(hub.received(up_filter(gateway)))
            per_equipment: dict[str, list[int]] = defaultdict(list)
            for equipment, ts, version in got:
                per_equipment[equipment].append(ts)
                assert version == "1.0.0"
            for equipment in ("pump-a", "pump-b"):
                ts = per_equipment[equipment]
                assert len(ts) == expected_count(trained)
                assert ts == sorted(ts) and len(set(ts)) == len(ts)
                assert ts[1] - ts[0] == 2  # sample period, sensor clock
            seqs = [b.seq for b in score_batches(hub.received(up_filter(gateway)))]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            hub.wait_for(lambda ms: any(s.counters.readings_in == 2 * N for s in states(ms)), what="final counters")
            last = [s for s in states(hub.received(up_filter(gateway))) if s.counters.readings_in == 2 * N][-1]
            assert last.online and last.models.active is not None and last.models.active.version == "1.0.0"
            assert last.counters.scored == 2 * expected_count(trained)
            assert last.counters.unscoreable == 2 * (N - expected_count(trained))
            assert last.update is not None and last.update.outcome == "applied"
            own = last.model_latency
            assert own is not None and own.model == last.models.active and own.samples > 0 and own.p99_us > 0
            assert agent.outbox.stats().depth == 0 or hub.wait_for(lambda _m: agent.outbox.stats().depth == 0)
        offline = states(hub.wait_for(lambda ms: any(not s.online for s in states(ms)), what="offline state"))
        assert any(not s.online for s in offline)
        sketches = [s for s in decoded(hub.received(up_filter(gateway)), "sketch") if isinstance(s, Sketch)]
        assert sum(s.n for s in sketches) == 2 * expected_count(trained)  # every scored reading, once
        names = {h.name for h in trained.manifest.reference}
        for sketch in sketches:
            assert {f.name for f in sketch.features} == names
            assert all(sum(f.counts) == sketch.n for f in sketch.features)
            assert sketch.window_end - sketch.window_start == 99
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_model_latency_is_scoring_cpu_not_time_spent_descheduled(tmp_path: Path, pki, mosquitto, mqtt_client,
                                                                  keys_dir: Path, bundles: Path) -> None:
    """A pass held up without computing (here: a 30 ms sleep inside it, as when a busy gateway deschedules the
    scoring thread) shows in the wall-clock `latency`, not in the per-model figure the rollout gate compares."""
    gateway = pki.unique_gateway_id("lat")
    config = agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub",
                          bundles, [simulated("pump-a", 1, period_ms=5, max_readings=None)])
    with mqtt_client(pki.hub) as hub:
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config) as agent:
            wait_for(lambda: agent.model_latency.current() is not None, what="the first scoring pass")
            original = agent.scorer.process

            def held_up(samples: list) -> object:
                time.sleep(0.03)
                return original(samples)

            agent.scorer.process = held_up  # type: ignore[method-assign]
            current = agent.model_latency.current()
            assert current is not None
            before = len(current[1])
            wait_for(lambda: len(current[1]) >= before + 40, timeout=30, what="40 held-up passes")
            (wall_p99,) = agent.latency.percentiles(99)
            (cpu_p99,) = current[1].percentiles(99)
    assert wall_p99 >= 30_000, wall_p99
    assert cpu_p99 < 10_000, cpu_p99
