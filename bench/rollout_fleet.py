"""Rollout of a new model version to a fleet of real agents (run by hand, not a test).

Real Mosquitto (mTLS) and PKI from the test harness, a real hub in-process (SQLite database and series
store, ingest, registry, TUF, rollout controller) and N real agents, by default each a `vigie agent run`
process configured with `[models.tuf]` as on a gateway (`--agents threads` runs them as threads of this
process instead, sharing one GIL with the hub), one simulated equipment each. Green = the first gateway
(smallest id) of each site, registered with cohort `green`.

    .venv/bin/python bench/rollout_fleet.py --gateways 100 --sites 3 --equipment 1 --sample-period-ms 100 --bake 0s

Steps and figures:

1. raw fan-out (context): one QoS 1 message from the hub's identity to each gateway's `down/` topic, received
   by a plain paho subscriber per gateway (gateway certificates): time from the first publish to the last
   receipt. Measured before the agents start.
2. baseline assignment (context): rollout of 1.0.0 to gateways that run nothing (no shadow stage): time from
   `POST /api/v1/rollouts` to `completed`, i.e. until every agent reports the baseline as active.
3. the measured target: rollout of 1.1.0 (shadow on green, active on green, then blue) with `--bake`:
   time from `POST /api/v1/rollouts` to `completed`, and the time in each phase (audit entries' timestamps).
   A 0 s bake still waits for the gates' evidence (ML gate: `--min-pairs` shadow/active pairs).
4. readings lost: agents stopped (final flush), hub ingest waited on until the series store stops growing;
   per gateway, readings the agent scored (active + shadow counters) vs `score` points stored by the hub.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import wait_until  # noqa: E402  (the test harness's one polling loop)

MODEL = "pump"
TERMINAL = ("completed", "rolled_back")


# --------------------------------------------------------------------------- raw MQTT fan-out baseline
def raw_fanout(broker: Any, pki: Any, gateways: list[str]) -> float:
    """Seconds from the first publish (hub identity) to the last receipt (one subscriber per gateway)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    received: set[str] = set()
    lock = threading.Lock()
    done = threading.Event()
    stamps = {"last": 0.0}
    subscribed = threading.Semaphore(0)

    def client(client_id: str, cert: Path, key: Path, gateway: str | None = None) -> Any:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, userdata=gateway)
        c.tls_set(ca_certs=str(broker.ca), certfile=str(cert), keyfile=str(key))
        if gateway is not None:  # callbacks before connecting: on_connect may run as soon as the loop starts
            c.on_message = on_message
            c.on_subscribe = lambda *_a: subscribed.release()
            c.on_connect = lambda c, gw, *_a: c.subscribe(f"vigie/v1/{gw}/down/bench", qos=1)
        c.connect(broker.host, broker.port, 60)
        c.loop_start()
        return c

    def on_message(_c: Any, gateway: str, _msg: Any) -> None:
        now = time.perf_counter()
        with lock:
            received.add(gateway)
            stamps["last"] = now
            if len(received) == len(gateways):
                done.set()

    subscribers = []
    for gw in gateways:
        cert = pki.issue(gw)
        subscribers.append(client(f"{gw}-fanout", cert.cert, cert.key, gw))
    for _ in gateways:
        if not subscribed.acquire(timeout=60):
            raise RuntimeError("fan-out subscribers did not all subscribe")
    hub = pki.hub
    publisher = client("bench-fanout-hub", hub.cert, hub.key)
    wait_until(publisher.is_connected, timeout=15, interval=0.1, what="the fan-out publisher to connect")
    started = time.perf_counter()
    infos = [publisher.publish(f"vigie/v1/{gw}/down/bench", b"x" * 200, qos=1) for gw in gateways]
    if not done.wait(60):
        raise RuntimeError(f"fan-out: {len(received)}/{len(gateways)} received")
    elapsed = stamps["last"] - started
    for info in infos:
        info.wait_for_publish(10)
    for c in [*subscribers, publisher]:
        c.disconnect()
        c.loop_stop()
    return elapsed


# --------------------------------------------------------------------------- fleet
class Fleet:
    """N agents; `counts()` after `stop()` gives gateway -> (scored active, scored shadow)."""

    def __init__(self, state_interval_ms: int, batch_delay_ms: int) -> None:
        self.dirs: dict[str, Path] = {}
        self.errors: list[str] = []
        self.state_interval_ms = state_interval_ms
        self.batch_delay_ms = batch_delay_ms

    def gateways(self) -> list[str]:
        return sorted(self.dirs)

    def _config(self, workdir: Path, gw: str, seed: int, broker: Any, pki: Any, hub: Any, release_pub: Path,
                equipment: int, period_ms: int, tuf: bool) -> Path:
        from tests.agent.helpers import agent_config, simulated

        directory = workdir / "agents" / gw
        (directory / "unused-bundles").mkdir(parents=True, exist_ok=True)
        sources = [simulated(f"pump-{e + 1}", seed=100 + seed * 10 + e, period_ms=period_ms, max_readings=None)
                   for e in range(equipment)]
        extra: dict[str, Any] = {"health": {"state_interval_ms": self.state_interval_ms},
                                 "batching": {"max_readings": 200, "max_delay_ms": self.batch_delay_ms}}
        if tuf:
            extra["models"] = {"tuf": {"url": f"{hub.url}/tuf", "trusted_root": hub.trusted_root}}
        self.dirs[gw] = directory
        return agent_config(directory, gw, broker, pki.issue(gw), release_pub, directory / "unused-bundles",
                            sources, **extra)

    def outbox(self, gw: str) -> Path:
        raise NotImplementedError

    def undelivered(self) -> dict[str, tuple[int, int]]:
        """gateway -> (score batches still in its outbox, entries dropped by the outbox)."""
        out = {}
        for gw in self.dirs:
            path = self.outbox(gw)  # read-only: never create one
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                pending = db.execute("SELECT count(*) FROM entries WHERE kind = 'scores'").fetchone()[0]
                row = db.execute("SELECT value FROM counters WHERE name = 'dropped'").fetchone()
            out[gw] = (pending, row[0] if row else 0)
        return out


class ProcessFleet(Fleet):
    """Each agent is a `vigie agent run` process with `[models.tuf]` in its config, as on a gateway."""

    def __init__(self, state_interval_ms: int, batch_delay_ms: int) -> None:
        super().__init__(state_interval_ms, batch_delay_ms)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, workdir: Path, gateways: list[str], broker: Any, pki: Any, hub: Any, release_pub: Path,
              equipment: int, period_ms: int) -> None:
        vigie = Path(sys.executable).parent / "vigie"
        for seed, gw in enumerate(gateways):
            config = self._config(workdir, gw, seed, broker, pki, hub, release_pub, equipment, period_ms, tuf=True)
            log = (self.dirs[gw] / "agent.log").open("wb")
            self.procs[gw] = subprocess.Popen(
                [str(vigie), "agent", "run", "--config", str(config), "--state-dir", str(self.dirs[gw] / "state")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def outbox(self, gw: str) -> Path:
        return self.dirs[gw] / "state" / "outbox.sqlite"

    def check_alive(self) -> None:
        dead = {gw: proc.returncode for gw, proc in self.procs.items() if proc.poll() is not None}
        if dead:
            first = next(iter(dead))
            raise RuntimeError(f"{len(dead)} agent(s) exited, e.g. {first} (exit {dead[first]}): "
                               f"see {self.dirs[first] / 'agent.log'}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for gw, proc in self.procs.items():
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if code != 0 and f"{gw}: exit {code}" not in self.errors:
                self.errors.append(f"{gw}: exit {code}")

    def cpu_share(self, seconds: float) -> float:
        """Mean CPU of one agent over `seconds`, as a fraction of one core (utime + stime from /proc)."""
        def ticks() -> int:
            total = 0
            for proc in self.procs.values():
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            return total

        before = ticks()
        time.sleep(seconds)
        return (ticks() - before) / os.sysconf("SC_CLK_TCK") / seconds / len(self.procs)

    def counts(self) -> dict[str, tuple[int, int]]:
        """From each agent's last log line `agent stopped` (its final counters)."""
        out = {}
        for gw, directory in self.dirs.items():
            stopped = [json.loads(line) for line in (directory / "agent.log").read_text().splitlines()
                       if '"agent stopped"' in line]
            if not stopped:
                raise RuntimeError(f"{gw} did not log 'agent stopped'; see {directory / 'agent.log'}")
            out[gw] = (stopped[-1]["scored"], stopped[-1]["shadow_scored"])
        return out


class ThreadFleet(Fleet):
    """Every agent an `edge_agent.agent.Agent` thread of this process (they share one GIL with the hub)."""

    def __init__(self, state_interval_ms: int, batch_delay_ms: int) -> None:
        super().__init__(state_interval_ms, batch_delay_ms)
        self.agents: dict[str, Any] = {}
        self.threads: list[threading.Thread] = []

    def start(self, workdir: Path, gateways: list[str], broker: Any, pki: Any, hub: Any, release_pub: Path,
              equipment: int, period_ms: int) -> None:
        from edge_agent.agent import Agent
        from edge_agent.config import load_config
        from edge_agent.fetchers.tuf_fetcher import TufFetcher, TufSettings

        for seed, gw in enumerate(gateways):
            config = self._config(workdir, gw, seed, broker, pki, hub, release_pub, equipment, period_ms, tuf=False)
            fetcher = TufFetcher(TufSettings(
                metadata_url=f"{hub.url}/tuf/metadata/", targets_url=f"{hub.url}/tuf/targets/",
                trusted_root=hub.trusted_root, cache_dir=self.dirs[gw] / "tuf-cache",
            ))
            agent = Agent(load_config(config), fetcher=fetcher)
            thread = threading.Thread(target=self._run, args=(agent,), name=f"agent-{gw}", daemon=True)
            thread.start()
            self.agents[gw] = agent
            self.threads.append(thread)

    def _run(self, agent: Any) -> None:
        try:
            agent.run()
        except BaseException as exc:  # reported at the end
            self.errors.append(repr(exc))

    def outbox(self, gw: str) -> Path:
        return Path(self.agents[gw].cfg.outbox.path)

    def stop(self) -> None:
        for agent in self.agents.values():
            agent.stop()
        for thread in self.threads:
            thread.join(60)

    def counts(self) -> dict[str, tuple[int, int]]:
        return {gw: (a.counts.scored, a.counts.shadow_scored) for gw, a in self.agents.items()}


# --------------------------------------------------------------------------- hub helpers
def _rollout(hub: Any, version: str, bake: str, gates: dict[str, Any], timeout: float,
             abort_in: str | None = None) -> tuple[str, float, list[tuple[float, str]]]:
    """Start a rollout via the API; (id, seconds to terminal, [(seconds, phase/stage) as polled]).

    With `abort_in` (a phase), the rollout is aborted once it reaches that phase and must end rolled back;
    else it must complete."""
    started = time.perf_counter()
    body = {"model": MODEL, "version": version, "bake": bake, "gates": gates}
    rollout_id: str = hub.call("POST", "/api/v1/rollouts", 201, json=body)["id"]
    wanted = "rolled_back" if abort_in else "completed"
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + timeout
    while True:
        rows = hub.call("GET", "/api/v1/rollouts", params={"model": MODEL})
        row = next(r for r in rows if r["id"] == rollout_id)
        label = f"{row['phase']}/{row['stage']}" if row["stage"] else row["phase"]
        now = time.perf_counter() - started
        if not seen or seen[-1][1] != label:
            seen.append((now, label))
        if row["phase"] == abort_in:
            sent = time.perf_counter()
            hub.call("POST", f"/api/v1/rollouts/{rollout_id}/abort", 200, json={"reason": "bench: abort"})
            took = time.perf_counter() - sent
            seen.append((time.perf_counter() - started, f"abort sent (the call took {took:.2f} s)"))
            abort_in = "(sent)"
        if row["phase"] in TERMINAL:
            if row["phase"] != wanted:
                detail = hub.call("GET", f"/api/v1/rollouts/{rollout_id}")
                raise RuntimeError(f"rollout {version} {row['phase']}: {detail['reason']!r}; "
                                   f"{[(h['phase'], h['stage'], h['outcome']) for h in detail['history']]}")
            return rollout_id, now, seen
        if time.monotonic() > deadline:
            detail = hub.call("GET", f"/api/v1/rollouts/{rollout_id}")
            raise TimeoutError(f"rollout {version} still {label} after {timeout}s: "
                               f"{detail['reason']!r}; {detail['last_report']}; {detail['gateways']}")
        time.sleep(0.05)


def _phases(hub: Any, rollout_id: str) -> list[tuple[str, int]]:
    """(audit type with stage, time of the step in ms) of the rollout's entries, in order."""
    entries: list[dict[str, Any]] = []
    start: int | None = 0
    while start is not None:
        page = hub.call("GET", "/api/v1/audit/entries", params={"start": start, "limit": 1000})
        entries += page["entries"]
        start = page["next"]
    out = []
    for e in entries:
        entry = e["entry"] or {}
        data = entry.get("data", {})
        if entry.get("type", "").startswith("rollout.") and data.get("rollout_id") == rollout_id:
            stage = data.get("stage")
            at_ms = int(data.get("phase_since_ms", e["ts_ms"]))  # when the step happened, not when it was logged
            out.append((entry["type"] + (f"/{stage}" if stage else ""), at_ms))
    return out


def _stored(series_db: Path) -> dict[str, dict[str, int]]:
    """gateway -> slot -> `score` points in the hub's series store."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with contextlib.closing(sqlite3.connect(series_db)) as db:
        rows = db.execute("SELECT gateway, json_extract(extra, '$.slot'), count(*) FROM points "
                          "WHERE measurement = 'score' GROUP BY 1, 2").fetchall()
    for gw, slot, n in rows:
        out[gw][slot or "?"] = n
    return out


def _settle(series_db: Path, expected: int, quiet_s: float = 3.0, timeout: float = 120) -> dict[str, dict[str, int]]:
    """The stored counts once they reach `expected` or stop growing for `quiet_s`."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while True:
        stored = _stored(series_db)
        total = sum(sum(v.values()) for v in stored.values())
        if total >= expected or time.monotonic() > deadline:
            return stored
        if total != last:
            last, since = total, time.monotonic()
        elif time.monotonic() - since > quiet_s:
            return stored
        time.sleep(0.5)


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateways", type=int, default=100)
    parser.add_argument("--sites", type=int, default=3)
    parser.add_argument("--equipment", type=int, default=1, help="Simulated equipment per agent.")
    parser.add_argument("--sample-period-ms", type=int, default=100)
    parser.add_argument("--bake", default="0s", help="Bake of each step of the measured rollout.")
    parser.add_argument("--baseline-bake", default="3s", help="Bake of the baseline (1.0.0) rollout.")
    parser.add_argument("--min-pairs", type=int, default=60, help="ML gate evidence (paired readings).")
    parser.add_argument("--timeout", type=float, default=600, help="Per rollout.")
    parser.add_argument("--state-interval-ms", type=int, default=1000,
                        help="Agents' periodic state report (gates judge counters from it; product default 10 s).")
    parser.add_argument("--batch-delay-ms", type=int, default=500,
                        help="Agents' batching.max_delay_ms (product default 500).")
    parser.add_argument("--abort-in", choices=("green_baking", "blue_rolling", "blue_baking"), default=None,
                        help="Then roll out 1.2.0 and abort it in this phase (measures rollback).")
    parser.add_argument("--database-url", default=None,
                        help="The hub's database (an empty one), e.g. postgresql+psycopg://postgres@127.0.0.1/bench; "
                             "default: SQLite in the temporary directory.")
    parser.add_argument("--agents", choices=("processes", "threads"), default="processes",
                        help="`vigie agent run` processes (as deployed), or threads of this process.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vigie-bench-rollout-") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from contracts.signing import save_public_key
    from model_export.train import TrainOptions, train_bundle
    from tests.harness import HarnessPki, MosquittoBroker
    from tests.rollout._fleet import FAST_GATES, Trained, bundle_tar, hub_settings, running_hub

    gates = {**FAST_GATES, "deadline": f"{int(args.timeout)}s", "rollback_deadline": f"{int(args.timeout)}s",
             "ml": {**FAST_GATES["ml"], "min_pairs": args.min_pairs}}
    t = time.perf_counter()
    trained_result = train_bundle(None, simulate_rows=2000, options=TrainOptions(version="1.0.0", seed=5))
    trained = Trained(trained_result.manifest, trained_result.model_bytes)
    key = Ed25519PrivateKey.generate()
    release_pub = workdir / "release.pub"
    save_public_key(key.public_key(), release_pub)
    tars = {v: bundle_tar(workdir / "bundles", trained, v, key) for v in ("1.0.0", "1.1.0", "1.2.0")}
    print(f"trained and signed 1.0.0, 1.1.0 and 1.2.0 ({trained.manifest.algorithm}) in "
          f"{time.perf_counter() - t:.1f} s", flush=True)

    pki = HarnessPki(workdir / "pki")
    broker = MosquittoBroker(workdir / "mosquitto", pki).start()
    kind = ProcessFleet if args.agents == "processes" else ThreadFleet
    fleet: ProcessFleet | ThreadFleet = kind(args.state_interval_ms, args.batch_delay_ms)
    try:
        sites = [f"site{i}" for i in range(args.sites)]
        by_site = {s: sorted(pki.unique_gateway_id(s) for _ in range(args.gateways // args.sites
                                                                      + (i < args.gateways % args.sites)))
                   for i, s in enumerate(sites)}
        gateways = sorted(g for gws in by_site.values() for g in gws)
        database = {"database_url": args.database_url} if args.database_url else {}
        settings = hub_settings(workdir, broker, release_pub,
                                rollout={"tick_s": 0.2, "default_bake": "0s", "enabled": True}, **database)
        with running_hub(settings) as hub:
            for version in tars:
                hub.call("POST", "/api/v1/models", 201, content=tars[version].read_bytes(),
                         headers={"Content-Type": "application/x-tar"})
            for site, gws in by_site.items():
                for index, gw in enumerate(gws):
                    hub.call("POST", "/api/v1/gateways", 201,
                             json={"id": gw, "site": site, "cohort": "green" if index == 0 else "blue"})

            fanout_s = raw_fanout(broker, pki, gateways)
            print(f"raw MQTT fan-out to {len(gateways)} subscribers: {fanout_s * 1000:.0f} ms", flush=True)

            t = time.perf_counter()
            fleet.start(workdir, gateways, broker, pki, hub, release_pub, args.equipment, args.sample_period_ms)

            def reported() -> bool:
                if isinstance(fleet, ProcessFleet):
                    fleet.check_alive()
                rows = hub.call("GET", "/api/v1/gateways")
                return sum(r["state_seq"] is not None for r in rows if r["id"] in fleet.dirs) == len(gateways)

            wait_until(reported, timeout=300, interval=0.5, what="every agent to report its state")
            print(f"{len(gateways)} agents started and reporting in {time.perf_counter() - t:.1f} s", flush=True)

            _, baseline_s, baseline_seen = _rollout(hub, "1.0.0", args.baseline_bake, gates, args.timeout)
            print(f"baseline 1.0.0 assigned to all (rollout, no shadow stage, bake {args.baseline_bake}): "
                  f"{baseline_s:.2f} s", flush=True)

            rollout_id, rollout_s, seen = _rollout(hub, "1.1.0", args.bake, gates, args.timeout)
            detail = hub.call("GET", f"/api/v1/rollouts/{rollout_id}")
            versions = {(g["active"] and g["active"]["version"], g["shadow"] and g["shadow"]["version"])
                        for g in detail["gateways"]}
            print(f"rollout 1.1.0 (bake {args.bake}): {rollout_s:.2f} s to completed; "
                  f"green {len(detail['green'])}, blue {len(detail['blue'])}; fleet now runs {versions}")
            phases = _phases(hub, rollout_id)
            for (name, ts), (_, nxt) in itertools.pairwise(phases):
                print(f"  {name:<36} {(nxt - ts) / 1000:7.2f} s")
            print(f"  {phases[-1][0]}")
            print("  (polled: " + ", ".join(f"{label} @{s:.2f}s" for s, label in seen) + ")")
            print(f"  baseline polled: {', '.join(f'{label} @{s:.2f}s' for s, label in baseline_seen)}")
            for h in detail["history"]:
                ml = [r for r in h["results"] if r["name"] == "ml_quality"]
                print(f"  gate {h['phase']}/{h['stage']}: {h['outcome']}" + (f" ({ml[0]['detail']})" if ml else ""))

            rollback_s = None
            if args.abort_in:
                abort_id, total_s, abort_seen = _rollout(hub, "1.2.0", args.bake, gates, args.timeout,
                                                         abort_in=args.abort_in)
                rollback_s = total_s - next(t for t, label in abort_seen if label.startswith("abort sent"))
                abort_detail = hub.call("GET", f"/api/v1/rollouts/{abort_id}")
                back = {(g["active"] and g["active"]["version"], g["shadow"] and g["shadow"]["version"])
                        for g in abort_detail["gateways"]}
                print(f"rollout 1.2.0 aborted in {args.abort_in}: rolled back {rollback_s:.2f} s after the abort; "
                      f"fleet now runs {back}")
                print("  (polled: " + ", ".join(f"{label} @{s:.2f}s" for s, label in abort_seen) + ")")
            if isinstance(fleet, ProcessFleet):
                share = fleet.cpu_share(10.0)
                print(f"steady state: one agent ({args.equipment} equipment at {args.sample_period_ms} ms) uses "
                      f"{share * 100:.2f} % of a core; the fleet {share * len(gateways):.2f} cores", flush=True)
            t = time.perf_counter()
            fleet.stop()
            print(f"agents stopped in {time.perf_counter() - t:.1f} s", flush=True)
            counts = fleet.counts()
            expected = sum(a + s for a, s in counts.values())
            assert settings.series.sqlite_path is not None
            stored = _settle(settings.series.sqlite_path, expected)
            undelivered = fleet.undelivered()

        lost = 0
        for gw, (active, shadow) in sorted(counts.items()):
            got = stored.get(gw, {})
            missing = active + shadow - got.get("active", 0) - got.get("shadow", 0)
            if missing:
                print(f"  {gw}: scored {active}+{shadow}, stored {got}, outbox {undelivered[gw]}")
            lost += max(missing, 0)
        total_stored = sum(sum(v.values()) for v in stored.values())
        pending = sum(p for p, _ in undelivered.values())
        dropped = sum(d for _, d in undelivered.values())
        print(f"readings scored {expected} (active {sum(a for a, _ in counts.values())}, shadow "
              f"{sum(s for _, s in counts.values())}), stored {total_stored}; lost={lost} "
              f"(score batches left in outboxes {pending}, dropped by outboxes {dropped})")
        print(f"ratio rollout / raw fan-out: {rollout_s / fanout_s:.0f}x; "
              f"rollout / baseline assignment: {rollout_s / baseline_s:.2f}x")
        print(json.dumps({"gateways": len(gateways), "rollout_s": round(rollout_s, 2),
                          "baseline_assign_s": round(baseline_s, 2), "raw_fanout_ms": round(fanout_s * 1000, 1),
                          "rollback_s": rollback_s and round(rollback_s, 2),
                          "lost": lost, "errors": fleet.errors}))
    finally:
        fleet.stop()
        broker.stop()


if __name__ == "__main__":
    main()
