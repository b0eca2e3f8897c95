"""How TUF distribution scales with the number of published bundles.

For N in --sizes: publish N small targets, then time one more publish (hub side: bundles + snapshot +
timestamp re-signed) and a cold and a warm agent fetch over loopback HTTP (client side: metadata refresh,
target download and verification). The `bundles` role lists every version, so its size grows linearly.

    .venv/bin/python bench/rollout_tuf.py --sizes 10,100,1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from contracts.messages import ModelRef
from hub.distribution import OnlineSigners, TufRepository
from tests.rollout._tuf import make_fetcher, online_signers, serve, signer


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def run(size: int, workdir: Path, bundle_bytes: int) -> dict[str, float]:
    online: OnlineSigners = online_signers()
    repo = TufRepository.create(workdir / "repo", root_signers=[signer()], targets_signers=[signer()], online=online)
    blob = workdir / "bundle.tar"
    for i in range(size):
        blob.write_bytes(os.urandom(64))
        repo.add_target(blob, f"pump/0.0.{i}.tar")
    blob.write_bytes(os.urandom(bundle_bytes))
    publish_ms = _timed(lambda: repo.add_target(blob, "pump/1.0.0.tar"))
    bundles_kb = (repo.metadata_dir / "bundles.json").stat().st_size / 1024
    with serve(repo.path) as server:
        fetcher = make_fetcher(server.base, repo.root_bytes(1), workdir / "agent")
        ref = ModelRef(name="pump", version="1.0.0")
        cold_ms = _timed(lambda: fetcher.fetch(ref, workdir / "staging-cold"))
        warm_ms = _timed(lambda: fetcher.fetch(ref, workdir / "staging-warm"))
    return {"publish_ms": publish_ms, "bundles_kb": bundles_kb, "cold_fetch_ms": cold_ms, "warm_fetch_ms": warm_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="Comma-separated numbers of published bundles.")
    parser.add_argument("--bundle-kb", type=int, default=512, help="Size of the fetched bundle.")
    args = parser.parse_args()
    print(f"{'bundles':>8} {'publish ms':>11} {'bundles.json KB':>16} {'cold fetch ms':>14} {'warm fetch ms':>14}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            r = run(size, Path(tmp), args.bundle_kb * 1024)
        print(f"{size:>8} {r['publish_ms']:>11.1f} {r['bundles_kb']:>16.1f} {r['cold_fetch_ms']:>14.1f} "
              f"{r['warm_fetch_ms']:>14.1f}")


if __name__ == "__main__":
    main()
