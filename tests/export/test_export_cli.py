"""`vigie model ...` end to end on simulator data (click CliRunner) and import hygiene (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from model_export.cli import model
from model_export.simulator import CHANNELS, Fault, FaultEvent, PumpSimulator

from .conftest import SKAB

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _labelled_csv(path: Path, seed: int) -> Path:
    batch = PumpSimulator(seed=seed, faults=[FaultEvent(Fault.VALVE_CLOSURE, 500, 200)]).batch(900)
    header = "timestamp;" + ";".join(CHANNELS) + ";anomaly"
    lines = [header] + [
        f"{ts};" + ";".join(repr(float(v)) for v in row) + f";{lab}.0"
        for ts, row, lab in zip(batch.ts_ms, batch.values, batch.labels, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_sign_verify_evaluate(tmp_path: Path) -> None:
    runner = CliRunner()
    out, keydir = tmp_path / "bundle", tmp_path / "keys"
    result = runner.invoke(
        model,
        [
            "train",
            "--simulate",
            "1500",
            "--seed",
            "2",
            "--algorithm",
            "iforest",
            "--name",
            "pump",
            "--version",
            "1.2.3",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["version"] == "1.2.3" and summary["parity"]["max_rel_diff"] <= 1e-5
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.onnx"]

    assert runner.invoke(model, ["keygen", "--out", str(keydir)]).exit_code == 0
    assert runner.invoke(model, ["keygen", "--out", str(keydir)]).exit_code == 3
    unsigned = runner.invoke(model, ["verify", str(out), "--pubkey", str(keydir / "release.pub")])
    assert unsigned.exit_code == 1 and "manifest.sig" in unsigned.output
    assert runner.invoke(model, ["sign", str(out), "--key", str(keydir / "release.key")]).exit_code == 0
    ok = runner.invoke(model, ["verify", str(out), "--pubkey", str(keydir / "release.pub"), "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["valid"] is True

    data = _labelled_csv(tmp_path / "run.csv", seed=11)
    ev = runner.invoke(model, ["evaluate", str(out), "--data", str(data), "--json"])
    assert ev.exit_code == 0, ev.output
    overall = json.loads(ev.stdout)["overall"]
    assert overall["tp"] + overall["fp"] + overall["fn"] + overall["tn"] == 900 - 9
    assert 0.0 <= overall["far"] <= 1.0

    (out / "model.onnx").write_bytes((out / "model.onnx").read_bytes()[:-1] + b"\x00")
    bad = runner.invoke(model, ["verify", str(out), "--pubkey", str(keydir / "release.pub")])
    assert bad.exit_code == 1 and "TamperedBundle" in bad.output


def test_train_on_csv_into_signed_tar(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(model, ["keygen", "--out", str(tmp_path)]).exit_code == 0
    files = [_labelled_csv(tmp_path / f"{i}.csv", seed=i) for i in range(2)]
    tar = tmp_path / "b.tar"
    args = [
        "train",
        "--data",
        str(files[0]),
        "--data",
        str(files[1]),
        "--algorithm",
        "pca",
        "--name",
        "p",
        "--version",
        "0.1.0",
        "--out",
        str(tar),
        "--key",
        str(tmp_path / "release.key"),
        "--window",
        "5",
        "--features",
        "mean,std,delta",
    ]
    result = runner.invoke(model, args)
    assert result.exit_code == 0, result.output
    verified = runner.invoke(model, ["verify", str(tar), "--pubkey", str(tmp_path / "release.pub")])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["train", "--name", "p", "--version", "1.0.0", "--out", "x"], 2),
        (["train", "--simulate", "500", "--name", "p", "--version", "1.0.0", "--out", "x", "--features", "bogus"], 2),
        (["train", "--simulate", "500", "--name", "bad name!", "--version", "1.0.0", "--out", "x"], 2),
        (["train", "--simulate", "500", "--name", "p", "--version", "1.0", "--out", "x"], 2),
    ],
)
def test_usage_and_config_errors(tmp_path: Path, args: list[str], code: int) -> None:
    result = CliRunner().invoke(model, [a if a != "x" else str(tmp_path / "x") for a in args])
    assert result.exit_code == code, result.output


def test_benchmark_prints_baselines(tmp_path: Path) -> None:
    files = [_labelled_csv(tmp_path / f"{i}.csv", seed=20 + i) for i in range(2)]
    result = CliRunner().invoke(
        model, ["benchmark", "--data", str(tmp_path), "--algorithms", "pca", "--json", "--channels", ",".join(CHANNELS)]
    )
    assert result.exit_code == 0, result.output
    rows = {r["algorithm"]: r for r in json.loads(result.stdout)}
    assert rows["null (never alarm)"]["f1"] == 0.0 and rows["always alarm"]["far"] == 1.0
    assert rows["pca"]["f1"] > rows["always alarm"]["f1"]
    assert len(files) == rows["pca"]["files"]


@pytest.mark.skipif(not SKAB.is_dir(), reason="SKAB data not present next to the repository")
def test_skab_protocol_on_valve2_beats_always_alarm() -> None:
    from contracts.manifest import WindowSpec
    from model_export.benchmark import baselines, run_protocol
    from model_export.cli import SKAB_CHANNELS
    from model_export.data import read_tables
    from model_export.train import TrainOptions

    tables = read_tables([SKAB / "valve2"])
    options = TrainOptions(
        algorithm="pca",
        window=WindowSpec(size=8, features=["mean", "std"]),
        channels=tuple(SKAB_CHANNELS.split(",")),
        margin=1.5,
    )
    ours = run_protocol(tables, options)
    always = baselines(tables)[1]
    assert ours.total.rows == always.total.rows
    assert ours.total.f1 >= 0.80 and ours.total.far <= 0.10


def test_light_modules_do_not_import_sklearn_or_onnx() -> None:
    code = (
        "import sys\n"
        "import model_export.features, model_export.simulator, model_export.bundle, model_export.evaluate\n"
        "import model_export.cli\n"
        "heavy = sorted(m for m in ('sklearn', 'onnx', 'skl2onnx', 'scipy') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_vigie_model_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vigie", "model", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for command in ("train", "evaluate", "benchmark", "keygen", "sign", "verify"):
        assert command in out.stdout
