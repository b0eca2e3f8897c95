"""Broker outage, agent kill -9 and a full outbox: nothing acknowledged is lost, order per equipment is kept."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from tests.agent.helpers import (
    agent_config,
    decoded,
    desired,
    desired_topic,
    readings,
    running_agent,
    simulated,
    states,
    up_filter,
    wait_for,
)
from tests.harness._util import free_port

pytestmark = pytest.mark.integration
OUTAGE_S = float(os.environ.get("VIGIE_TEST_OUTAGE_S", "30"))
"""Broker outage length: the spec's 30 s by default (VIGIE_TEST_OUTAGE_S=3 for a quicker local run)."""


def _hub_session(mqtt_client, pki, broker, name: str):
    """A hub subscriber with a persistent session, so it misses nothing across a broker restart."""
    return mqtt_client(pki.hub, broker=broker, client_id=name, clean_start=False, session_expiry=600)


def _dedup_check(got: list[tuple[str, int, str]], expected_per_equipment: int) -> None:
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[tuple[str, int]] = set()
    for equipment, ts, _version in got:
        if (equipment, ts) not in seen:
            seen.add((equipment, ts))
            first_seen[equipment].append(ts)
    for ts in first_seen.values():
        assert len(ts) == expected_per_equipment
        assert ts == sorted(ts)


@pytest.mark.parametrize("outage_s", [OUTAGE_S])
def test_broker_killed_mid_stream_every_reading_arrives_once(outage_s, tmp_path, pki, mosquitto_restartable,
                                                             mqtt_client, trained, keys_dir, bundles) -> None:
    broker = mosquitto_restartable
    gateway = pki.unique_gateway_id("out")
    n, period = 1500, 4
    equipment = [simulated("p1", 1, period_ms=period, max_readings=n), simulated("p2", 2, period_ms=period,
                                                                                 max_readings=n)]
    config = agent_config(tmp_path / "cfg", gateway, broker, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          equipment)
    expected = n - (trained.manifest.window.size - 1)
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
    broker.restart()  # graceful: the hub's persistent session is now on disk
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub, running_agent(config) as agent:
        hub.wait_for(lambda ms: len(readings(ms)) > 200, what="stream started")
        broker.kill()
        time.sleep(outage_s)  # the outage itself; nothing is asserted on time
        broker.start()
        hub.wait_connected()
        hub.wait_for(lambda ms: len({(e, t) for e, t, _ in readings(ms)}) >= 2 * expected, timeout=90,
                     what="every reading after the outage")
        _dedup_check(readings(hub.received(up_filter(gateway))), expected)
        assert agent.transport.stats.connects >= 2


def _spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "vigie", "agent", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def _health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return {}


def _outbox_rows(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return [(k, s) for k, s in db.execute("SELECT kind, seq FROM entries ORDER BY id")]


def test_agent_kill_9_loses_nothing_from_the_outbox(tmp_path, pki, mosquitto_restartable, mqtt_client, keys_dir,
                                                     bundles) -> None:
    broker = mosquitto_restartable
    gateway = pki.unique_gateway_id("k9")
    port = free_port()
    config = agent_config(tmp_path / "cfg", gateway, broker, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, period_ms=2, max_readings=None)],
                          health={"port": port}, outbox={"synchronous": "full"})
    outbox = tmp_path / "cfg" / "state" / gateway / "outbox.sqlite"
    log = tmp_path / "agent.log"
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
    broker.restart()
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub:
        proc = _spawn(config, log)
        try:
            hub.wait_for(lambda ms: len(readings(ms)) > 100, timeout=60, what="agent publishing")
            broker.stop()
            wait_for(lambda: _health(port).get("outbox_depth", 0) >= 5, what="outbox filling while offline")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            pending = _outbox_rows(outbox)
            assert len(pending) >= 5
            broker.start()
            proc = _spawn(config, log)
            hub.wait_connected()

            def delivered() -> bool:
                got = {(kind, b.seq) for kind in ("scores", "events") for b in decoded(hub.messages, kind)}
                return all(row in got for row in pending)

            wait_for(delivered, timeout=60, what="every entry left in the outbox at kill -9")
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(15)
        assert code == 0, "SIGTERM must stop the agent cleanly (exit 0)"
        seqs = [b.seq for b in decoded(hub.received(up_filter(gateway)), "scores")]
        top = max(s for k, s in pending if k == "scores")
        assert set(range(top + 1)) <= set(seqs), "an acknowledged or stored batch is missing"
        firsts = list(dict.fromkeys(seqs))
        assert firsts == sorted(firsts), "batches arrived out of order"
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_last_will_marks_the_gateway_offline_after_kill_9(tmp_path, pki, mosquitto, mqtt_client, keys_dir,
                                                         bundles) -> None:
    gateway = pki.unique_gateway_id("will")
    config = agent_config(tmp_path / "cfg", gateway, mosquitto, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, max_readings=None)])
    with mqtt_client(pki.hub) as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        proc = _spawn(config, tmp_path / "agent.log")
        try:
            hub.wait_for(lambda ms: len(readings(ms)) > 20, timeout=60, what="agent publishing")
            online = max(s.seq for s in states(hub.received(up_filter(gateway))) if s.online)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        hub.wait_for(lambda ms: any(not s.online for s in states(ms)), what="last will")
        will = next(s for s in states(hub.received(up_filter(gateway))) if not s.online)
        # The will outranks every state of its connection, so the hub (which keeps the highest seq) applies it.
        assert will.gateway == gateway and will.seq > online
        hub.publish(desired_topic(gateway), b"", retain=True)
    with mqtt_client(pki.hub) as late:  # a hub that connects later sees the retained offline state
        late.subscribe(f"vigie/v1/{gateway}/up/state")
        [retained] = late.collect(f"vigie/v1/{gateway}/up/state", count=1)
        assert retained.retain and not states([retained])[0].online


@pytest.mark.parametrize("strategy", ["drop_oldest", "reject_new"])
def test_full_outbox_applies_strategy_and_reports_it(strategy, tmp_path, pki, mosquitto_restartable, mqtt_client,
                                                     trained, keys_dir, bundles) -> None:
    broker = mosquitto_restartable
    gateway = pki.unique_gateway_id("full")
    n, capacity = 300, 5
    config = agent_config(tmp_path / "cfg", gateway, broker, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, period_ms=1, max_readings=n)],
                          outbox={"max_entries": capacity, "strategy": strategy},
                          batching={"max_readings": 10, "max_delay_ms": 100})
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub:
        hub.subscribe(up_filter(gateway))
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
        with running_agent(config) as agent:
            wait_for(lambda: agent.scorer.active is not None, what="model loaded")
            broker.stop()
            wait_for(lambda: agent.counts.readings_in == n and len(agent.batcher) == 0, what="every batch written")
            stats = agent.outbox.stats()
            assert stats.depth <= capacity
            if strategy == "drop_oldest":
                assert stats.dropped > 0 and stats.rejected == 0
            else:
                assert stats.rejected > 0 and stats.dropped == 0
            broker.start()
            hub.wait_connected()

            def reported():
                for s in states(hub.received(up_filter(gateway))):
                    box = s.outbox
                    if s.online and box is not None and (box.dropped, box.rejected) == (stats.dropped, stats.rejected):
                        return s
                return None

            state = wait_for(reported, what="outbox losses in up/state")
            hub.wait_for(lambda ms: any(e.kind == "outbox_pressure" for b in decoded(ms, "events") for e in b.events),
                         what="outbox_pressure event")
            assert state.outbox.strategy == strategy and state.outbox.capacity == capacity
        events = [e for b in decoded(hub.received(up_filter(gateway)), "events") for e in b.events]
        assert any(e.kind == "outbox_pressure" and "pressure over" in e.detail for e in events)
        hub.publish(desired_topic(gateway), b"", retain=True)


def test_the_network_thread_sleeps_while_the_broker_hangs_then_delivers_everything(
        tmp_path, pki, mosquitto_restartable, mqtt_client, trained, keys_dir, bundles) -> None:
    """A hung broker (SIGSTOP: connection open, no PUBACK) fills the in-flight window; the network thread must
    then sleep until acks come, not spin, and once the broker answers again every reading arrives."""
    broker = mosquitto_restartable
    gateway = pki.unique_gateway_id("hang")
    n = 400
    config = agent_config(tmp_path / "cfg", gateway, broker, pki.issue(gateway), keys_dir / "release.pub", bundles,
                          [simulated("p1", 1, period_ms=10, max_readings=n)], broker={"inflight": 2})
    expected = n - (trained.manifest.window.size - 1)
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub:
        hub.publish(desired_topic(gateway), desired(gateway, 1, "1.0.0"), retain=True)
    with _hub_session(mqtt_client, pki, broker, f"hub-{gateway}") as hub, running_agent(config) as agent:
        hub.subscribe(up_filter(gateway))
        hub.wait_for(lambda ms: len(readings(ms)) > 50, what="stream started")
        broker.pause()
        try:
            wait_for(lambda: len(agent.transport._inflight) == 2, what="the in-flight window to fill")
            rounds = agent.transport.stats.loop_rounds
            time.sleep(2.0)  # the hang itself: new outbox entries (every 50 ms) may wake the thread, nothing else
            woken = agent.transport.stats.loop_rounds - rounds
        finally:
            broker.resume()
        assert woken < 200, f"{woken} network-loop rounds in 2 s while waiting for acks: a busy loop"
        hub.wait_for(lambda ms: len({(e, t) for e, t, _ in readings(ms)}) >= expected, timeout=60,
                     what="every reading after the broker came back")
        _dedup_check(readings(hub.received(up_filter(gateway))), expected)
