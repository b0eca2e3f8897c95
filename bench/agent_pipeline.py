"""Edge agent pipeline benchmark (run by hand): `.venv/bin/python bench/agent_pipeline.py [--json]`.

In one run, on the same trained model (PCA bundle from `model_export.train`, window 10, 24 features):
1. raw onnxruntime `session.run` (intra_op threads 1) on precomputed feature rows: rows/s at batch 2000,
   and the time of one call at batch 1;
   plus, at batch 1, the agent's score call (`ModelRuntime.score`: dtype cast, run, reshape) and the
   shared feature kernel alone (`compute_features` on one window);
2. the agent pipeline: `Scorer.process` (grouping, range checks, feature module, session.run, wire dicts,
   hysteresis, sketches) + batching + `Publisher.scores` into a real SQLite WAL outbox: readings/s with
   2000 queued readings per call over 10 equipment, and the time of one call with one reading (features +
   score, no outbox write, which happens once per batch of N readings, not per reading);
3. RSS of a fresh process running the real `Agent` (one model loaded from its store, 12 simulated
   equipment at 200 readings/s each, no broker reachable), read from /proc after >= 3 s and 2000 scored
   readings, with MALLOC_ARENA_MAX=2 as in ops/systemd/vigie-agent.service.
Everything is single-threaded (one core).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Literal

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from contracts.signing import save_public_key, sign_bytes  # noqa: E402
from edge_agent.batching import Batcher  # noqa: E402
from edge_agent.outbox import Outbox  # noqa: E402
from edge_agent.publisher import Publisher  # noqa: E402
from edge_agent.runtime import ModelRuntime, runtime_from  # noqa: E402
from edge_agent.scorer import Scorer  # noqa: E402
from edge_agent.sources.base import Sample  # noqa: E402
from model_export.bundle import write_bundle  # noqa: E402
from model_export.features import compute_features  # noqa: E402
from model_export.simulator import PumpSimulator  # noqa: E402

EQUIPMENT = 10
BATCH = 2000
SINGLES = 3000
CHUNKS = 40


def train(workdir: Path) -> tuple[ModelRuntime, Path, Path]:
    from model_export.train import TrainOptions, train_bundle

    key = Ed25519PrivateKey.generate()
    result = train_bundle(None, simulate_rows=3000, options=TrainOptions(seed=1))
    bundle = workdir / "pump" / result.manifest.version
    bundle.mkdir(parents=True)
    write_bundle(bundle, result.model_bytes, result.manifest, sign_bytes(key, result.manifest.canonical_bytes()))
    save_public_key(key.public_key(), workdir / "release.pub")
    return runtime_from(result.manifest, result.model_bytes), bundle, workdir / "release.pub"


def make_samples(n_per_equipment: int) -> list[Sample]:
    out: list[Sample] = []
    sims = [PumpSimulator(seed=i, period_ms=1000) for i in range(EQUIPMENT)]
    for _ in range(n_per_equipment):
        for i, sim in enumerate(sims):
            r = sim.next_reading()
            out.append(Sample(f"pump-{i:02d}", r.ts_ms, r.values))
    return out


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def raw_ort(runtime: ModelRuntime, samples: list[Sample]) -> dict[str, float]:
    matrix = np.array([[s.values[c] for c in runtime.spec.channels] for s in samples[:BATCH + 20]])
    feats = compute_features(matrix, runtime.spec)[:BATCH]
    session, name, out = runtime.session, runtime.input_name, runtime.output_name
    batch_times = timed(lambda: session.run([out], {name: feats}), 50)
    one = feats[:1]
    single = timed(lambda: session.run([out], {name: one}), 5000)
    wrapped = timed(lambda: runtime.score(one), 5000)
    window = matrix[: runtime.spec.window.size]
    kernel = timed(lambda: compute_features(window, runtime.spec), 5000)
    med = statistics.median
    return {"rows_per_s": BATCH / med(batch_times), "batch1_us": med(single) * 1e6,
            "wrapper_batch1_us": med(wrapped) * 1e6, "features_batch1_us": med(kernel) * 1e6}


Sync = Literal["full", "normal"]


def pipeline(runtime: ModelRuntime, samples: list[Sample], workdir: Path, sync: Sync) -> dict[str, float]:
    scorer = Scorer(max_batch=4096, anomaly_on=3, anomaly_off=5, sketch_window_ms=300_000, range_margin=3.0)
    scorer.set_active(runtime)
    outbox = Outbox(workdir / f"outbox-{sync}.sqlite", 10_000_000, 2**34, "drop_oldest", synchronous=sync)
    publisher = Publisher("bench-gw", outbox)
    batcher: Batcher[dict] = Batcher(200, 1000)
    singles = samples[-SINGLES:]  # the readings that follow the chunks, one call each
    samples = samples[:-SINGLES]
    chunks = [samples[i : i + BATCH] for i in range(0, len(samples) - BATCH + 1, BATCH)]
    scorer.process(chunks[0])  # fill the windows

    spent = {"score": 0.0, "publish": 0.0}

    def one_chunk(chunk: list[Sample]) -> None:
        t0 = time.perf_counter()
        result = scorer.process(chunk)
        t1 = time.perf_counter()
        with outbox.group():  # as the agent does: one commit per pipeline iteration
            for batch in batcher.add(result.readings, 0):
                publisher.scores(batch)
        spent["score"] += t1 - t0
        spent["publish"] += time.perf_counter() - t1

    start = time.perf_counter()
    for chunk in chunks[1:]:
        one_chunk(chunk)
    elapsed = time.perf_counter() - start
    n = sum(len(c) for c in chunks[1:])
    feed = iter(singles)
    single = timed(lambda: scorer.process([next(feed)]), SINGLES)
    return {"readings_per_s": n / elapsed, "batch1_us": statistics.median(single) * 1e6,
            "score_per_s": n / spent["score"], "publish_per_s": n / spent["publish"]}


RSS_CHILD = textwrap.dedent("""
    import json, sys, threading, time
    from pathlib import Path
    from edge_agent.agent import Agent
    from edge_agent.config import load_config
    agent = Agent(load_config(Path(sys.argv[1])))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    started = time.monotonic()
    while (agent.counts.scored < 2000 or time.monotonic() - started < 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    mib = {k: int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
    print(json.dumps({"rss_mib": mib["VmRSS"], "hwm_mib": mib["VmHWM"], "scored": agent.counts.scored}))
    agent.stop()
    thread.join(30)
""")


def rss(bundle: Path, release_pub: Path, workdir: Path) -> dict[str, float]:
    from contracts.messages import ModelRef
    from contracts.signing import load_public_key
    from edge_agent.models import ModelStore
    from model_export.bundle import verify_bundle

    state = workdir / "state"
    store = ModelStore(state / "models")
    ref = ModelRef(name="pump", version=bundle.name)
    verify_bundle(bundle, [load_public_key(release_pub)]).write_to(store.path(ref))
    store.write_slots({"active": ref, "previous": None, "shadow": None})
    from vigie import pki

    pki.init_pki(workdir / "pki")
    issued = pki.issue_gateway(workdir / "pki", "bench-gw")
    paths = pki.PkiPaths(workdir / "pki")
    config = workdir / "agent.toml"
    equipment = "".join(f'\n[[equipment]]\nid = "pump-{i:02d}"\nsample_period_ms = 5\n'
                        f'[equipment.source]\ntype = "simulator"\nseed = {i}\n' for i in range(12))
    config.write_text(textwrap.dedent(f'''
        [gateway]
        id = "bench-gw"
        site = "bench"
        state_dir = "{state}"
        [broker]
        url = "mqtts://127.0.0.1:1"
        ca = "{paths.ca_bundle}"
        cert = "{issued.cert}"
        key = "{issued.key}"
        [models]
        release_keys = ["{release_pub}"]
        [health]
        port = 0
        state_interval_ms = 500
    ''') + equipment)
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    result = subprocess.run([sys.executable, "-c", RSS_CHILD, str(config)], capture_output=True, text=True, env=env,
                            timeout=120, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"RSS child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        runtime, bundle, release_pub = train(workdir / "bundles")
        samples = make_samples(BATCH // EQUIPMENT * (CHUNKS + 1) + SINGLES // EQUIPMENT)
        raw = raw_ort(runtime, samples)
        pipe = pipeline(runtime, samples, workdir, "full")
        pipe_normal = pipeline(runtime, samples, workdir, "normal")
        memory = rss(bundle, release_pub, workdir)
    figures = {
        "raw_ort_rows_per_s": round(raw["rows_per_s"]),
        "pipeline_readings_per_s": round(pipe["readings_per_s"]),
        "pipeline_readings_per_s_sync_normal": round(pipe_normal["readings_per_s"]),
        "  of which scoring alone, readings/s": round(pipe["score_per_s"]),
        "  of which outbox write alone, readings/s": round(pipe["publish_per_s"]),
        "raw_ort_batch1_us": round(raw["batch1_us"], 1),
        "pipeline_batch1_us": round(pipe["batch1_us"], 1),
        "batch1_ratio": round(pipe["batch1_us"] / raw["batch1_us"], 2),
        "score_call_batch1_us": round(raw["wrapper_batch1_us"], 1),
        "score_call_ratio": round(raw["wrapper_batch1_us"] / raw["batch1_us"], 2),
        "feature_kernel_batch1_us": round(raw["features_batch1_us"], 1),
        "agent_rss_mib": round(memory["rss_mib"], 1),
        "agent_peak_rss_mib": round(memory["hwm_mib"], 1),
    }
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:42s} {value}")


if __name__ == "__main__":
    main()
