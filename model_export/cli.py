"""`vigie model`: train, evaluate, benchmark, keygen, sign and verify model bundles.

Heavy modules (scikit-learn, onnx) are imported inside the commands that need them, so that
`vigie --help` and `vigie model verify` stay fast and work without the `export` extra.
Exit codes: 0 ok, 1 invalid (verify said no), 2 usage, 3 configuration/data error, 4 runtime failure.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from model_export._errors import BundleError, DataError, ExportError, ModelExportError

if TYPE_CHECKING:
    from model_export.data import Table
    from model_export.train import TrainOptions

EXIT_INVALID, EXIT_CONFIG, EXIT_RUNTIME = 1, 3, 4
IDENTIFIER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
DATA_PATHS = click.Path(exists=True, path_type=Path)
SKAB_CHANNELS = "accel1_rms,accel2_rms,current,pressure,voltage,flow_rate_rms"
"""Channels of the SKAB preset: the two temperatures drift within a run and only add false alarms."""


@contextmanager
def _errors() -> Iterator[None]:
    """Translate package errors to exit codes with a one-line message."""
    from contracts._errors import ContractError

    try:
        yield
    except (DataError, ContractError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except (ExportError, BundleError, ModelExportError) as exc:
        click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_RUNTIME)


@click.group()
def model() -> None:
    """Train, evaluate, benchmark, sign and verify model bundles (model.onnx + manifest.json + manifest.sig)."""


TRAIN_DEFAULTS: dict[str, Any] = {"window": 10, "features": "raw,mean,std", "channels": None, "margin": 1.0}
SKAB_PRESET: dict[str, Any] = {"window": 8, "features": "mean,std", "channels": SKAB_CHANNELS, "margin": None}
"""Chosen on valve1 alone (grid over window, features, channels, margin), then checked on valve2."""
SKAB_MARGINS = {"pca": 1.5, "ae": 1.0, "iforest": 0.0}
"""Threshold margin per algorithm in the SKAB preset (IsolationForest scores are bounded and compressed)."""


def _window_options(defaults: dict[str, Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    options = [
        click.option(
            "--window",
            "window_size",
            type=click.IntRange(1, 4096),
            default=defaults["window"],
            show_default=True,
            help="Window size W (readings) of the windowed features.",
        ),
        click.option(
            "--features",
            "kinds",
            default=defaults["features"],
            show_default=True,
            help="Comma-separated window features: raw, mean, std, min, max, delta.",
        ),
        click.option(
            "--channels",
            default=defaults["channels"],
            show_default=True,
            help="Comma-separated channels to use, in order (default: all).",
        ),
        click.option(
            "--quantile",
            type=click.FloatRange(0.5, 1.0),
            default=0.99,
            show_default=True,
            help="Training-score quantile q of the threshold.",
        ),
        click.option(
            "--margin",
            type=click.FloatRange(0.0, 100.0),
            default=defaults["margin"],
            show_default=defaults["margin"] is not None,
            help="Threshold = Q_q + margin * (Q_q - median) of the training scores"
            + ("." if defaults["margin"] is not None else " (default: pca 1.5, ae 1.0, iforest 0)."),
        ),
        click.option("--seed", type=int, default=0, show_default=True, help="Random seed (fit and simulator)."),
    ]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.match(value):
        raise click.BadParameter(f"{value!r} is not {what}")
    return value


def _options(
    algorithm: str,
    window_size: int,
    kinds: str,
    channels: str | None,
    quantile: float,
    margin: float,
    seed: int,
    **extra: Any,
) -> TrainOptions:
    from contracts.manifest import WindowSpec
    from model_export.train import TrainOptions

    try:
        window = WindowSpec(size=window_size, features=[k.strip() for k in kinds.split(",") if k.strip()])
    except ValueError as exc:
        raise click.BadParameter(str(exc).splitlines()[-1], param_hint="--features") from None
    chans = tuple(c.strip() for c in channels.split(",") if c.strip()) if channels else None
    return TrainOptions(
        algorithm=algorithm, window=window, channels=chans, quantile=quantile, margin=margin, seed=seed, **extra
    )


def _read(paths: Sequence[Path]) -> list[Table]:
    from model_export.data import read_tables

    return read_tables(list(paths))


@model.command()
@click.option("--data", "data", multiple=True, type=DATA_PATHS, help="CSV file or directory of CSVs (repeatable).")
@click.option(
    "--simulate",
    type=click.IntRange(100, 10_000_000),
    default=None,
    help="Train on this many simulator rows instead of --data.",
)
@click.option("--algorithm", type=click.Choice(["iforest", "pca", "ae"]), default="pca", show_default=True)
@click.option(
    "--name",
    required=True,
    callback=lambda c, p, v: _check(v, IDENTIFIER, "an identifier"),
    help="Model name (identifier: letters, digits, _ . - inside, up to 64).",
)
@click.option(
    "--version",
    "version",
    required=True,
    callback=lambda c, p, v: _check(v, SEMVER, "X.Y.Z"),
    help="Semantic version X.Y.Z.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle directory, or a .tar file.")
@click.option(
    "--holdout",
    type=click.FloatRange(0.0, 0.9),
    default=0.2,
    show_default=True,
    help="Fraction of each file's last rows held out from the fit (parity + metrics).",
)
@click.option(
    "--key",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="Release private key: sign the bundle right away.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
@_window_options(TRAIN_DEFAULTS)
def train(
    data: tuple[Path, ...],
    simulate: int | None,
    algorithm: str,
    name: str,
    version: str,
    out: Path,
    holdout: float,
    key: Path | None,
    as_json: bool,
    **window: Any,
) -> None:
    """Fit a detector on CSV data (SKAB-style or plain) or simulator rows and write a bundle.

    The ONNX graph holds the scaler; the parity proof (scikit-learn vs onnxruntime) must pass or
    nothing is written (exit 4).
    """
    if bool(data) == (simulate is not None):
        raise click.UsageError("give either --data PATH... or --simulate ROWS")
    from contracts.signing import load_private_key
    from model_export.train import train_bundle

    with _errors():
        opts = _options(algorithm, name=name, version=version, holdout=holdout, **window)
        tables = _read(data) if data else None
        sign_key = load_private_key(key) if key else None
        with click.progressbar(length=100, label=f"fitting {algorithm}", file=sys.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(int(100 * done / total) - bar.pos)

            result = train_bundle(
                out, tables, simulate_rows=simulate or 0, options=opts, sign_key=sign_key, progress=progress
            )
    _print_train(result.manifest, out, as_json)


def _print_train(manifest: Any, out: Path, as_json: bool) -> None:
    summary = {
        "bundle": str(out),
        "name": manifest.name,
        "version": manifest.version,
        "algorithm": manifest.algorithm,
        "features": len(manifest.feature_names),
        "threshold": manifest.threshold.value,
        "metrics": manifest.metrics,
        "parity": manifest.parity,
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    click.echo(
        f"wrote {out}: {manifest.name} {manifest.version} ({manifest.algorithm}, "
        f"{len(manifest.feature_names)} features, threshold {manifest.threshold.value:.6g})"
    )
    click.echo(
        f"parity: max relative diff {manifest.parity['max_rel_diff']:.3g} over "
        f"{int(manifest.parity['rows_checked'])} rows, {int(manifest.parity['label_mismatches'])} label "
        "mismatches"
    )


@model.command()
@click.argument("bundle", type=DATA_PATHS)
@click.option(
    "--data",
    "data",
    multiple=True,
    type=DATA_PATHS,
    required=True,
    help="Labelled CSV file or directory (`anomaly` column).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
def evaluate(bundle: Path, data: tuple[Path, ...], as_json: bool) -> None:
    """F1, FAR = FP/(FP+TN) and MAR = FN/(FN+TP) of a bundle on labelled files, per file and overall.

    The bundle is read without checking its signature (use `verify` for that). The first W-1 rows of
    each file (window warm-up) are not scored.
    """
    from model_export.evaluate import evaluate_bundle

    with _errors():
        results = evaluate_bundle(bundle, _read(data))
    if as_json:
        click.echo(json.dumps({k: v.as_dict() for k, v in results.items()}, indent=2))
        return
    click.echo(f"{'file':<40} {'rows':>6} {'F1':>6} {'FAR, %':>8} {'MAR, %':>8}")
    for source, c in results.items():
        click.echo(f"{source[-40:]:<40} {c.rows:6d} {c.f1:6.3f} {100 * c.far:8.2f} {100 * c.mar:8.2f}")


@model.command()
@click.option(
    "--data",
    "data",
    multiple=True,
    type=DATA_PATHS,
    required=True,
    help="Directories or files of labelled run files (e.g. skab/valve1 skab/valve2).",
)
@click.option("--protocol", type=click.Choice(["skab"]), default="skab", show_default=True)
@click.option("--algorithms", default="pca,ae,iforest", show_default=True, help="Comma-separated algorithms.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@_window_options(SKAB_PRESET)
def benchmark(data: tuple[Path, ...], protocol: str, algorithms: str, as_json: bool, **window: Any) -> None:
    """SKAB outlier protocol: per file fit on the first 400 rows, score the rest (with onnxruntime), sum
    TP/FP/FN/TN over all files; null and always-alarm detectors alongside.

    Defaults are the SKAB preset: W=8, mean+std, no temperature channels, margin 1.5.
    """
    del protocol
    from model_export.benchmark import baselines, leaderboard, run_protocol

    with _errors():
        tables = _read(data)
        names = [a.strip() for a in algorithms.split(",") if a.strip()]
        results = []
        with click.progressbar(names, label="benchmark", file=sys.stderr) as bar:
            for name in bar:
                margin = SKAB_MARGINS.get(name, 1.0) if window["margin"] is None else window["margin"]
                results.append(run_protocol(tables, _options(name, **(window | {"margin": margin}))))
        results += baselines(tables)
    if as_json:
        click.echo(json.dumps([r.row() | {"files": len(r.per_file) or len(tables)} for r in results], indent=2))
    else:
        click.echo(leaderboard(results))


@model.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for release.key (0600) and release.pub.",
)
def keygen(out: Path) -> None:
    """Create an Ed25519 release key pair: OUT/release.key (private, keep offline) and OUT/release.pub."""
    from contracts.signing import generate_private_key, key_id, save_private_key, save_public_key

    private, public = out / "release.key", out / "release.pub"
    if private.exists():
        click.echo(f"error: {private} exists; refusing to overwrite a key", err=True)
        sys.exit(EXIT_CONFIG)
    key = generate_private_key()
    save_private_key(key, private)
    save_public_key(key.public_key(), public)
    click.echo(f"wrote {private} and {public} (key id {key_id(key.public_key())})")


@model.command()
@click.argument("bundle", type=DATA_PATHS)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Release private key (PEM).",
)
def sign(bundle: Path, key: Path) -> None:
    """Sign BUNDLE's manifest (directory or .tar) in place, after checking model.onnx against it."""
    from contracts.signing import load_private_key
    from model_export.bundle import sign_bundle

    with _errors():
        signer = sign_bundle(bundle, load_private_key(key))
    click.echo(f"signed {bundle} with key {signer}")


@model.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option(
    "--pubkey",
    "pubkeys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Pinned release public key (PEM); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(bundle: Path, pubkeys: tuple[Path, ...], as_json: bool) -> None:
    """Verify BUNDLE: layout, signature by a pinned key, canonical manifest, model digest.

    Exit 0 if valid, 1 if not (with the reason).
    """
    from model_export.bundle import load_public_keys, verify_bundle

    with _errors():
        keys = load_public_keys(list(pubkeys))
    try:
        verified = verify_bundle(bundle, keys)
    except BundleError as exc:
        _report_verify(as_json, False, f"{type(exc).__name__}: {exc}")
        sys.exit(EXIT_INVALID)
    m = verified.manifest
    _report_verify(as_json, True, f"{m.name} {m.version} ({m.algorithm}) signed by {verified.key_id}")


def _report_verify(as_json: bool, valid: bool, detail: str) -> None:
    if as_json:
        click.echo(json.dumps({"valid": valid, "detail": detail}))
    else:
        click.echo(("valid: " if valid else "INVALID: ") + detail, err=not valid)
