"""`vigie model publish | versions | show | deprecate`: the hub registry, over the hub API.

These commands are added to the `vigie model` group (see `COMMANDS`); they need only httpx and the light
bundle module, not the hub's server dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hub.registry.client import INVALID, HubApi, api_options, fail, run


def _print(data: Any, as_json: bool, line: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else line)


def _bundle_bytes(bundle: Path) -> bytes:
    """A bundle directory is packed into the canonical .tar; a .tar is sent as it is (the hub repacks it)."""
    from model_export._errors import BundleError
    from model_export.bundle import pack_tar_bytes, read_bundle_files

    if bundle.is_file():
        return bundle.read_bytes()
    try:
        return pack_tar_bytes(read_bundle_files(bundle))
    except BundleError as exc:
        fail(INVALID, f"{bundle}: {exc}")


@click.command("publish")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print the published version as JSON.")
def publish(api: HubApi, bundle: Path, as_json: bool) -> None:
    """Upload a signed BUNDLE (directory or .tar) to the hub registry (operator role).

    The hub verifies the release signature, the model digest and the version before storing it; a version
    is immutable: publishing the same bytes again is accepted, other bytes under the same version are not.
    """
    data = _bundle_bytes(bundle)
    result = run(lambda: api.call("POST", "/api/v1/models", content=data,
                                  headers={"Content-Type": "application/x-tar"}))
    _print(result, as_json, f"published {result['name']} {result['version']} (sha256 {result['bundle_sha256']})")


@click.command("versions")
@api_options
@click.option("--name", help="Only this model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def versions(api: HubApi, name: str | None, as_json: bool) -> None:
    """List the model versions published on the hub."""
    rows = run(lambda: api.call("GET", "/api/v1/models", params={"name": name} if name else None))
    lines = [
        f"{r['name']:<24} {r['version']:<16} {'DEPRECATED ' if r['deprecated'] else ''}"
        f"by {r['published_by']} sha256 {r['bundle_sha256'][:12]}"
        for r in rows
    ]
    _print(rows, as_json, "\n".join(lines) or "no published versions")


@click.command("show")
@click.argument("name")
@click.argument("version")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the manifest).")
def show(api: HubApi, name: str, version: str, as_json: bool) -> None:
    """Show one published version."""
    row = run(lambda: api.call("GET", f"/api/v1/models/{name}/{version}"))
    line = (f"{row['name']} {row['version']}: {row['algorithm']}, threshold {row['threshold']:.6g}, "
            f"signer {row['signer_keyid']}, published by {row['published_by']}"
            + (f", DEPRECATED ({row['deprecated_reason']})" if row["deprecated"] else ""))
    _print(row, as_json, line)


@click.command("deprecate")
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why this version must not be rolled out any more.")
@api_options
def deprecate(api: HubApi, name: str, version: str, reason: str) -> None:
    """Mark a version as deprecated: no new rollout may use it (agents may still roll back to it)."""
    run(lambda: api.call("POST", f"/api/v1/models/{name}/{version}/deprecate", json={"reason": reason}))
    click.echo(f"deprecated {name} {version}")


COMMANDS = (publish, versions, show, deprecate)
"""Added to `vigie model` by `vigie/cli.py`."""
