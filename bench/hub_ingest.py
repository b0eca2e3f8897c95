"""Hub ingest benchmark (run by hand): real Mosquitto (mTLS) and influxd started by the test harness classes.

    .venv/bin/python bench/hub_ingest.py throughput [--messages 4000 --readings 50 --gateways 4]
    .venv/bin/python bench/hub_ingest.py latency [--equipment 50 --hz 10 --seconds 20]

throughput: pre-encoded ScoresBatch messages are published as fast as QoS 1 allows (publisher in its own
process); the hub (ingest only, InfluxDB 1.x store) and a count-only paho subscriber (own process,
auto-ack) receive the same stream in the same run. Rates are readings / (last - first receipt), the
hub's "last" being the commit of the last batch in InfluxDB (then it is queryable).

latency: G gateways publish every 1/hz s one reading per equipment stamped with the wall clock; the
latency of a reading is commit time in InfluxDB (worker listener, after the write returned) - reading ts.
A reader polling InfluxDB confirms the points are queryable.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------- helper processes
def publish_main(args: argparse.Namespace) -> None:
    """Child: publish `messages` pre-encoded batches per gateway, round robin, QoS 1, as fast as possible."""
    from contracts.messages import Reading, ScoresBatch

    certs = Path(args.certs)
    clients = [_client(args, f"pub-{gw}", certs / f"{gw}.crt", certs / f"{gw}.key") for gw in args.gateway]
    payloads: list[tuple[Any, str, bytes]] = []
    for seq in range(args.messages):
        for index, gw in enumerate(args.gateway):
            readings = [
                Reading(equipment=f"eq-{seq % 10}", ts=1_700_000_000_000 + seq * args.readings + i,
                        values={"temp": 20.0 + i, "vib": 0.5}, score=0.1, is_anomaly=False, threshold=0.5,
                        model="iforest", model_version="1.0.0")
                for i in range(args.readings)
            ]
            batch = ScoresBatch(gateway=gw, seq=seq, readings=readings)
            payloads.append((clients[index], f"vigie/v1/{gw}/up/scores", batch.to_bytes()))
    print("ready", flush=True)
    sys.stdin.readline()
    infos = [client.publish(topic, payload, qos=1) for client, topic, payload in payloads]
    for info in infos:
        info.wait_for_publish(60)
    for client in clients:
        client.disconnect()
        client.loop_stop()
    print("done", flush=True)


def count_main(args: argparse.Namespace) -> None:
    """Child: count-only subscriber on the hub's filter (auto-ack); prints first/last receipt times."""
    state = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()

    def on_message(_c: Any, _u: Any, _msg: Any) -> None:
        now = time.time()
        if state["n"] == 0:
            state["first"] = now
        state["n"] += 1
        state["last"] = now
        if state["n"] >= args.expect:
            done.set()

    client = _client(args, "bench-counter", Path(args.hub_cert), Path(args.hub_key), on_message=on_message,
                     receive_max=2000)
    client.subscribe("vigie/v1/+/up/#", qos=1)
    time.sleep(0.5)
    print("ready", flush=True)
    done.wait(600)
    print(json.dumps(state), flush=True)


def _client(args: argparse.Namespace, client_id: str, cert: Path, key: Path, on_message: Any = None,
            receive_max: int | None = None) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=args.ca, certfile=str(cert), keyfile=str(key))
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    if on_message is not None:
        client.on_message = on_message
    props = None
    if receive_max:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = receive_max
    client.connect(args.host, args.port, 60, properties=props)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not client.is_connected() and time.monotonic() < deadline:
        time.sleep(0.01)
    return client


# --------------------------------------------------------------------------- services and hub
class Services:
    def __init__(self, workdir: Path) -> None:
        from tests.harness import HarnessPki, InfluxD, MosquittoBroker

        self.pki = HarnessPki(workdir / "pki")
        self.broker = MosquittoBroker(workdir / "mosquitto", self.pki).start()
        self.influxd = InfluxD(workdir / "influxd").start()
        self.workdir = workdir
        self.certs = workdir / "certs"
        self.certs.mkdir()

    def issue(self, gateway: str) -> None:
        cert = self.pki.issue(gateway)
        (self.certs / f"{gateway}.crt").write_bytes(cert.cert.read_bytes())
        key = self.certs / f"{gateway}.key"
        key.write_bytes(cert.key.read_bytes())
        key.chmod(0o600)

    def stop(self) -> None:
        self.broker.stop()
        self.influxd.stop()

    def child_args(self) -> list[str]:
        hub = self.pki.hub
        return ["--host", self.broker.host, "--port", str(self.broker.port), "--ca", str(self.broker.ca),
                "--certs", str(self.certs), "--hub-cert", str(hub.cert), "--hub-key", str(hub.key)]


def start_hub(services: Services, gateways: Sequence[str], database: str, batch_max: int) -> Any:
    from hub.api.context import HubContext
    from hub.app import open_context
    from hub.db.engine import session_scope
    from hub.db.models import GatewayRecord
    from hub.metrics import HubMetrics
    from hub.settings import load_settings

    broker = services.broker
    settings = load_settings(
        data_dir=services.workdir / "hub",
        series={"backend": "influxdb1", "url": services.influxd.url, "database": database},
        mqtt={"host": broker.host, "port": broker.port, "ca_file": broker.ca, "cert_file": broker.hub.cert,
              "key_file": broker.hub.key, "client_id": f"bench-hub-{database}"},
        ingest={"batch_max_messages": batch_max},
    )
    context: HubContext = open_context(settings, HubMetrics())
    from hub.app import tune_gc

    tune_gc()
    with session_scope(context.engine) as session:
        for gw in gateways:
            session.add(GatewayRecord(id=gw, site="bench", cohort="blue", registered_at_ms=0))
    assert context.ingest is not None
    context.ingest.start()
    if not context.ingest.source.wait_connected(15):
        raise RuntimeError("hub did not connect")
    time.sleep(0.3)  # SUBACK
    return context


def spawn(mode: str, args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, mode, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"{mode} child failed: {line!r}")
    return proc


# --------------------------------------------------------------------------- benchmarks
def throughput(args: argparse.Namespace, services: Services) -> dict[str, Any]:
    gateways = [f"bench-{i}" for i in range(args.gateways)]
    for gw in gateways:
        services.issue(gw)
    total_msgs = args.messages * len(gateways)
    total_readings = total_msgs * args.readings
    context = start_hub(services, gateways, "bench_tp", args.batch)
    stamps: dict[str, float] = {"first": 0.0, "last": 0.0}
    seen = {"readings": 0}
    done = threading.Event()

    def listener(accepted: Sequence[Any]) -> None:
        now = time.time()
        if not stamps["first"]:
            stamps["first"] = min(a.inbound.received_ms for a in accepted) / 1000
        seen["readings"] += sum(len(a.message.readings) for a in accepted)
        if seen["readings"] >= total_readings:
            stamps["last"] = now
            done.set()

    context.ingest.worker.listeners.append(listener)
    counter = spawn("_count", [*services.child_args(), "--expect", str(total_msgs)])
    publisher = spawn("_publish", [*services.child_args(), "--messages", str(args.messages), "--readings",
                                   str(args.readings), *[a for g in gateways for a in ("--gateway", g)]])
    assert publisher.stdin is not None
    publisher.stdin.write("go\n")
    publisher.stdin.flush()
    done.wait(600)
    count_out, _ = counter.communicate(timeout=120)
    publisher.communicate(timeout=120)
    count = json.loads(count_out.strip().splitlines()[-1])
    stored = _influx_count(services, "bench_tp")
    registry = context.metrics.registry
    write_s = registry.get_sample_value("vigie_hub_store_write_seconds_sum", {"store": "influxdb1"}) or 0.0
    batches = registry.get_sample_value("vigie_hub_ingest_batch_messages_count", {}) or 0.0
    from hub.app import close_context

    close_context(context)
    hub_rate = total_readings / max(stamps["last"] - stamps["first"], 1e-9)
    count_rate = count["n"] * args.readings / max(count["last"] - count["first"], 1e-9)
    return {
        "messages": total_msgs, "readings_per_message": args.readings, "readings": total_readings,
        "stored_in_influxdb": stored, "hub_readings_per_s": round(hub_rate),
        "count_only_readings_per_s": round(count_rate), "ratio": round(hub_rate / count_rate, 3),
        "hub_points_per_s": round(2 * hub_rate), "hub_elapsed_s": round(stamps["last"] - stamps["first"], 2),
        "influx_write_s": round(write_s, 2), "batches": int(batches),
    }


def latency(args: argparse.Namespace, services: Services) -> dict[str, Any]:
    per_gateway = 10
    gateways = [f"lat-{i}" for i in range(max(1, args.equipment // per_gateway))]
    for gw in gateways:
        services.issue(gw)
    context = start_hub(services, gateways, "bench_lat", 500)
    latencies: list[float] = []

    def listener(accepted: Sequence[Any]) -> None:
        now_ms = time.time() * 1000
        for item in accepted:
            latencies.extend(now_ms - r.ts for r in item.message.readings)

    context.ingest.worker.listeners.append(listener)
    ns = _child_namespace(services)
    publishers = [_client(ns, f"lat-pub-{gw}", services.certs / f"{gw}.crt", services.certs / f"{gw}.key")
                  for gw in gateways]
    _run_latency_load(publishers, gateways, per_gateway, args.hz, args.seconds)
    deadline = time.monotonic() + 10
    expected = int(args.seconds * args.hz) * per_gateway * len(gateways)
    while len(latencies) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = _influx_count(services, "bench_lat")
    from hub.app import close_context

    close_context(context)
    latencies.sort()
    return {
        "equipment": per_gateway * len(gateways), "hz": args.hz, "readings": len(latencies),
        "stored_in_influxdb": stored, "p50_ms": round(_pct(latencies, 0.50), 1),
        "p99_ms": round(_pct(latencies, 0.99), 1), "max_ms": round(latencies[-1], 1) if latencies else None,
    }


def _run_latency_load(publishers: list[Any], gateways: list[str], per_gateway: int, hz: float, seconds: float) -> None:
    from contracts.messages import Reading, ScoresBatch

    period = 1 / hz
    next_tick = time.monotonic()
    for seq in range(int(seconds * hz)):
        now_ms = int(time.time() * 1000)
        for client, gw in zip(publishers, gateways, strict=True):
            readings = [Reading(equipment=f"eq-{i}", ts=now_ms, values={"temp": 20.0}, score=0.1, is_anomaly=False,
                                threshold=0.5, model="iforest", model_version="1.0.0") for i in range(per_gateway)]
            client.publish(f"vigie/v1/{gw}/up/scores", ScoresBatch(gateway=gw, seq=seq, readings=readings).to_bytes(),
                           qos=1)
        next_tick += period
        time.sleep(max(0.0, next_tick - time.monotonic()))
    for client in publishers:
        client.disconnect()
        client.loop_stop()


def _child_namespace(services: Services) -> argparse.Namespace:
    return argparse.Namespace(host=services.broker.host, port=services.broker.port, ca=str(services.broker.ca))


def _influx_count(services: Services, database: str) -> int:
    body = services.influxd.query('SELECT count("anomaly_score") FROM "score"', db=database)
    series = (body.get("results") or [{}])[0].get("series") or []
    return int(series[0]["values"][0][1]) if series else 0


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    tp = sub.add_parser("throughput")
    tp.add_argument("--messages", type=int, default=1000, help="messages per gateway")
    tp.add_argument("--readings", type=int, default=50, help="readings per message")
    tp.add_argument("--gateways", type=int, default=4)
    tp.add_argument("--batch", type=int, default=500, help="ingest batch_max_messages")
    lat = sub.add_parser("latency")
    lat.add_argument("--equipment", type=int, default=50)
    lat.add_argument("--hz", type=float, default=10.0)
    lat.add_argument("--seconds", type=float, default=20.0)
    for name in ("_publish", "_count"):
        child = sub.add_parser(name)
        for option in ("--host", "--ca", "--certs", "--hub-cert", "--hub-key"):
            child.add_argument(option)
        child.add_argument("--port", type=int)
        child.add_argument("--messages", type=int, default=0)
        child.add_argument("--readings", type=int, default=0)
        child.add_argument("--expect", type=int, default=0)
        child.add_argument("--gateway", action="append", default=[])
    args = parser.parse_args()
    if args.mode == "_publish":
        return publish_main(args)
    if args.mode == "_count":
        return count_main(args)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
        services = Services(Path(tmp))
        try:
            result = throughput(args, services) if args.mode == "throughput" else latency(args, services)
        finally:
            services.stop()
    print(json.dumps({args.mode: result}, indent=2))
    return None


if __name__ == "__main__":
    main()
