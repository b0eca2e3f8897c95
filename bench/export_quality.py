"""Detection quality under SKAB's outlier protocol (run by hand: `.venv/bin/python bench/export_quality.py`).

Per run file: fit on the first 400 rows, calibrate the threshold on them, score the rest with the
exported ONNX graph (onnxruntime), sum TP/FP/FN/TN over all files. Printed for valve1 + valve2 together
and for each folder apart: the SKAB preset (W=8, mean+std, no temperature channels, per-algorithm
margin) was chosen on valve1 alone, so valve2 is the check that it was not fitted to the scored files.
The null (never alarm) and always-alarm detectors are measured on the same rows, in the same run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from contracts.manifest import WindowSpec
from model_export.benchmark import ProtocolResult, baselines, leaderboard, run_protocol
from model_export.cli import SKAB_CHANNELS, SKAB_MARGINS
from model_export.data import Table, read_tables
from model_export.train import TrainOptions

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/skab"


def preset(algorithm: str, window: int, features: str, channels: str) -> TrainOptions:
    return TrainOptions(
        algorithm=algorithm,
        window=WindowSpec(size=window, features=features.split(",")),
        channels=tuple(channels.split(",")),
        margin=SKAB_MARGINS.get(algorithm, 1.0),
    )


def evaluate(tables: list[Table], algorithms: list[str], args: argparse.Namespace) -> list[ProtocolResult]:
    ours = [run_protocol(tables, preset(a, args.window, args.features, args.channels)) for a in algorithms]
    return ours + baselines(tables)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SKAB folder holding valve1/ and valve2/")
    parser.add_argument("--algorithms", default="pca,ae,iforest")
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--features", default="mean,std")
    parser.add_argument("--channels", default=SKAB_CHANNELS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")
    folders = {
        "valve1+valve2": ["valve1", "valve2"],
        "valve1 (selection set)": ["valve1"],
        "valve2 (check)": ["valve2"],
    }
    report = {}
    for title, names in folders.items():
        tables = read_tables([args.data / n for n in names])
        results = evaluate(tables, algorithms, args)
        report[title] = [r.row() for r in results]
        if not args.json:
            print(f"\n== {title}: {len(tables)} files, {results[-1].total.rows} scored rows ==")
            print(leaderboard(results))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("\nFor context (not measured here; SKAB's leaderboard scores 34 files, valve1+valve2+other):")
        print("best published Conv-AE F1 0.78, FAR 13.6 %.")


if __name__ == "__main__":
    main()
