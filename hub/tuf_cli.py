"""`vigie hub tuf ...`: the TUF repository's key ceremonies (ADR 0005), run with the hub stopped.

    vigie hub tuf init --offline-dir /media/usb/tuf          # new repository; root + targets keys on the media
    vigie hub tuf status [--json]                              # versions, expiry, keys and thresholds per role
    vigie hub tuf rotate timestamp --root-key /media/usb/tuf/root.pem
    vigie hub tuf rotate bundles --targets-key /media/usb/tuf/targets.pem
    vigie hub tuf rotate targets --root-key R.pem --new-key-out /media/usb/tuf/targets-2.pem
    vigie hub tuf rotate root --root-key R.pem --new-key-out /media/usb/tuf/root-2.pem
    vigie hub tuf resign root --root-key R.pem                # yearly, before expiry
    vigie hub tuf resign targets --targets-key T.pem

The repository and online-key directories come from the hub settings (`--config`, `[distribution]`) unless
`--repo` / `--keys-dir` are given. Online keys (timestamp, snapshot, bundles) are replaced in the keys
directory: the new one takes `<role>.pem`, the old one is kept as `<role>.pem.retired-<UTC time>`. New
offline keys are written only where `--new-key-out` says (removable media). Private keys are never printed.
Restart the hub afterwards: it loads its online keys when it starts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hub.cli import EXIT_CONFIG, EXIT_INVALID, _fail, _settings, config_option

if TYPE_CHECKING:
    from securesystemslib.signer import Signer  # type: ignore[attr-defined]

    from hub.distribution.repository import TufRepository

F = TypeVar("F", bound=Callable[..., Any])
ONLINE = ("timestamp", "snapshot", "bundles")
KEY_FILE = click.Path(path_type=Path, dir_okay=False, exists=True)


@dataclass(frozen=True)
class Place:
    repo_dir: Path
    keys_dir: Path


def place_options(func: F) -> F:
    func = click.option("--keys-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="Online keys (default: distribution.keys_dir of the settings).")(func)
    func = click.option("--repo", "repo_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                        help="The repository (default: distribution.repo_dir of the settings).")(func)
    return config_option(func)


def _place(config_file: Path | None, repo_dir: Path | None, keys_dir: Path | None) -> Place:
    from hub.distribution.service import paths

    if repo_dir is not None and keys_dir is not None:
        return Place(repo_dir, keys_dir)
    settings = _settings(config_file)
    default_repo, default_keys = paths(settings.distribution, settings.data_dir)
    return Place(repo_dir or default_repo, keys_dir or default_keys)


def _signers(files: tuple[Path, ...], option: str) -> list[Signer]:
    from hub._errors import ConfigError
    from hub.distribution.keys import load_signer

    if not files:
        _fail(EXIT_INVALID, f"{option} is required (the offline key file, e.g. on removable media)")
    try:
        return [load_signer(path) for path in files]
    except ConfigError as exc:
        _fail(EXIT_CONFIG, str(exc))


def _open(place: Place) -> TufRepository:
    from hub._errors import ConfigError
    from hub.distribution.keys import OnlineSigners
    from hub.distribution.repository import TufRepository

    try:
        return TufRepository(place.repo_dir, OnlineSigners.from_dir(place.keys_dir))
    except ConfigError as exc:
        _fail(EXIT_CONFIG, str(exc))


def _run(action: Callable[[], Any]) -> Any:
    """Run a repository operation; refusals (a key below the threshold, an existing file) exit 1 by name."""
    from hub._errors import HubError

    try:
        return action()
    except (HubError, ValueError) as exc:
        _fail(EXIT_INVALID, f"refused, nothing changed: {exc}")


@click.group("tuf")
def tuf() -> None:
    """Key ceremonies of the hub's TUF repository (run them with the hub stopped)."""


@tuf.command("init")
@place_options
@click.option("--offline-dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Where the new root and targets keys go (removable media; keep it offline).")
def init(config_file: Path | None, repo_dir: Path | None, keys_dir: Path | None, offline_dir: Path) -> None:
    """Create the repository: online keys in the keys directory, root and targets keys in --offline-dir."""
    from hub.distribution.service import init_repository

    place = _place(config_file, repo_dir, keys_dir)
    if (place.repo_dir / "metadata" / "root.json").exists():
        _fail(EXIT_INVALID, f"{place.repo_dir} already holds a repository")
    _run(lambda: init_repository(place.repo_dir, place.keys_dir, offline_dir))
    click.echo(f"created {place.repo_dir}; pin {place.repo_dir / 'metadata' / '1.root.json'} on the gateways "
               f"and move {offline_dir} offline")


@tuf.command("status")
@place_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(config_file: Path | None, repo_dir: Path | None, keys_dir: Path | None, as_json: bool) -> None:
    """Version, expiry, key ids and threshold of every role, and the number of bundles listed."""
    from hub.distribution.ceremony import describe

    place = _place(config_file, repo_dir, keys_dir)
    report = _run(lambda: describe(place.repo_dir))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for role, info in report["roles"].items():
        keys = ", ".join(k[:12] for k in info["keyids"]) or "-"
        click.echo(f"{role:<10} v{info['version']:<4} expires {info['expires']}  threshold {info['threshold']}"
                   f"  keys {keys}")
    click.echo(f"bundles listed: {report['targets']}")


@tuf.command("rotate")
@place_options
@click.argument("role", type=click.Choice(["timestamp", "snapshot", "bundles", "targets", "root"]))
@click.option("--root-key", type=KEY_FILE, multiple=True, help="Current root key file(s) (offline).")
@click.option("--targets-key", type=KEY_FILE, multiple=True, help="Current targets key file(s) (offline).")
@click.option("--new-key-out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="targets/root: where to write the new offline key (must not exist).")
def rotate(config_file: Path | None, repo_dir: Path | None, keys_dir: Path | None, role: str,
           root_key: tuple[Path, ...], targets_key: tuple[Path, ...], new_key_out: Path | None) -> None:
    """Replace every key of ROLE by a new one (agents chain to the new root on their next fetch).

    timestamp, snapshot: needs --root-key. bundles: needs --targets-key. targets: --root-key and
    --new-key-out. root: --root-key (the old root vouches) and --new-key-out."""
    from hub.distribution import ceremony

    place = _place(config_file, repo_dir, keys_dir)
    repo = _open(place)
    if role in ONLINE:
        option, files = ("--targets-key", targets_key) if role == "bundles" else ("--root-key", root_key)
        signers = _signers(files, option)
        retired = _run(lambda: ceremony.rotate_online(repo, place.keys_dir, role, signers))
        click.echo(f"{role} key replaced (old key kept as {retired.name}); restart the hub")
        return
    if new_key_out is None:
        _fail(EXIT_INVALID, f"rotating {role} needs --new-key-out (where the new offline key goes)")
    roots = _signers(root_key, "--root-key")
    version = _run(lambda: ceremony.rotate_offline(repo, role, roots, new_key_out))
    click.echo(f"{role} key replaced: root is now version {version}; new key in {new_key_out} (keep it offline)")


@tuf.command("resign")
@place_options
@click.argument("role", type=click.Choice(["root", "targets"]))
@click.option("--root-key", type=KEY_FILE, multiple=True, help="Root key file(s), for root.")
@click.option("--targets-key", type=KEY_FILE, multiple=True, help="Targets key file(s), for targets.")
def resign(config_file: Path | None, repo_dir: Path | None, keys_dir: Path | None, role: str,
           root_key: tuple[Path, ...], targets_key: tuple[Path, ...]) -> None:
    """Re-sign ROLE with its current keys and a new expiry (yearly, before it expires)."""
    place = _place(config_file, repo_dir, keys_dir)
    repo = _open(place)
    if role == "root":
        signers = _signers(root_key, "--root-key")
        version = _run(lambda: repo.rotate_root(lambda _root: None, signers))
        click.echo(f"root re-signed as version {version}")
    else:
        signers = _signers(targets_key, "--targets-key")
        _run(lambda: repo.resign_targets(signers))
        click.echo("targets re-signed")
