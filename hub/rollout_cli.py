"""`vigie rollout ...`: start, follow and steer green-then-blue rollouts, over the hub API.

Exit codes: 0 ok, 1 invalid (unknown rollout or version, a command the rollout's phase refuses, or
`start --wait` ending rolled back), 2 usage, 3 configuration (gate file, credentials), 4 runtime failure.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from hub.registry.client import CONFIG, INVALID, HubApi, api_options, fail, run

TERMINAL = ("completed", "rolled_back")


@click.group()
def rollout() -> None:
    """Roll a model version out green-then-blue, with gates (operator role; `promote --force`: admin)."""


def _gates_document(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    from hub._errors import ConfigError
    from hub.rollout.gates import load_gate_config

    try:
        return load_gate_config(path).model_dump(mode="json")
    except ConfigError as exc:
        fail(CONFIG, str(exc))


def _show(detail: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(detail, indent=2, sort_keys=True))
        return
    stage = f"/{detail['stage']}" if detail.get("stage") else ""
    click.echo(f"{detail['id']}: {detail['model']} {detail['version']} {detail['phase']}{stage}")
    if detail.get("reason"):
        click.echo(f"  reason: {detail['reason']}")
    if "green" in detail:
        click.echo(f"  green: {', '.join(detail['green'])}   blue: {', '.join(detail['blue']) or '-'}")
        for gate in detail.get("last_report", []):
            click.echo(f"  gate {gate['name']:<12} {gate['status']:<8} {gate['detail']}")
        for gw in detail.get("gateways", []):
            active = gw["active"]["version"] if gw.get("active") else "-"
            shadow = f" shadow {gw['shadow']['version']}" if gw.get("shadow") else ""
            click.echo(f"  {gw['cohort']:<5} {gw['gateway']:<24} active {active}{shadow}")


@rollout.command()
@click.argument("model")
@click.argument("version")
@click.option("--bake", help="Bake time of each step, e.g. 90s, 10m, 1h (default: the hub's).")
@click.option("--gates", "gates_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Gate file (TOML or JSON): thresholds, deadline, on_failure (default: the hub's).")
@click.option("--wait", is_flag=True, help="Follow the rollout until it completes (exit 0) or rolls back (exit 1).")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def start(api: HubApi, model: str, version: str, bake: str | None, gates_file: Path | None, wait: bool,
          as_json: bool) -> None:
    """Start rolling MODEL VERSION out: green cohort first, blue once green's gates passed."""
    body = {"model": model, "version": version, "bake": bake, "gates": _gates_document(gates_file)}
    detail = run(lambda: api.call("POST", "/api/v1/rollouts", json=body))
    _show(detail, as_json)
    if wait:
        _wait(api, detail["id"], as_json)


def _wait(api: HubApi, rollout_id: str, as_json: bool) -> None:
    """Follow the rollout: a line (on stderr with --json) at each phase change and each step of the wave."""
    last = ""
    while True:
        detail = run(lambda: api.call("GET", f"/api/v1/rollouts/{rollout_id}"))
        where = f"{detail['phase']}/{detail.get('stage') or ''}{_wave_progress(detail)}"
        if where != last:
            click.echo(f"{time.strftime('%H:%M:%S')} {where}", err=as_json)
            last = where
        if detail["phase"] in TERMINAL:
            _show(detail, as_json)
            raise SystemExit(0 if detail["phase"] == "completed" else INVALID)
        time.sleep(2.0)


def _wave_progress(detail: dict[str, Any]) -> str:
    """`  41/97 gateways report the assigned models` for the wave being rolled, else ""."""
    targets = [g for g in detail.get("gateways", []) if g.get("expected")]
    if not targets:
        return ""
    done = sum(g["active"] == g["expected"]["active"] and g["shadow"] == g["expected"]["shadow"] for g in targets)
    return f"  {done}/{len(targets)} gateways report the assigned models"


@rollout.command()
@click.argument("rollout_id", required=False)
@click.option("--active", is_flag=True, help="Only rollouts that are not finished (without ROLLOUT_ID).")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(api: HubApi, rollout_id: str | None, active: bool, as_json: bool) -> None:
    """Show one rollout (gates, gateways) or list the rollouts."""
    if rollout_id:
        _show(run(lambda: api.call("GET", f"/api/v1/rollouts/{rollout_id}")), as_json)
        return
    rows = run(lambda: api.call("GET", "/api/v1/rollouts", params={"active": active}))
    if as_json:
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
    for row in [] if as_json else rows:
        _show(row, False)


def _command(api: HubApi, rollout_id: str, verb: str, as_json: bool, body: dict[str, Any] | None = None) -> None:
    _show(run(lambda: api.call("POST", f"/api/v1/rollouts/{rollout_id}/{verb}", json=body or {})), as_json)


@rollout.command()
@click.argument("rollout_id")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pause(api: HubApi, rollout_id: str, as_json: bool) -> None:
    """Pause a rollout: no gate is judged and no step is taken until `resume`."""
    _command(api, rollout_id, "pause", as_json)


@rollout.command()
@click.argument("rollout_id")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def resume(api: HubApi, rollout_id: str, as_json: bool) -> None:
    """Resume a paused rollout where it was (time spent paused does not count towards the bake)."""
    _command(api, rollout_id, "resume", as_json)


@rollout.command()
@click.argument("rollout_id")
@click.option("--reason", default="aborted by operator", show_default=True)
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def abort(api: HubApi, rollout_id: str, reason: str, as_json: bool) -> None:
    """Abort: every gateway that received the new version goes back to its previous one."""
    _command(api, rollout_id, "abort", as_json, {"reason": reason})


@rollout.command()
@click.argument("rollout_id")
@click.option("--force", is_flag=True, help="Skip failing gates (admin role).")
@api_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def promote(api: HubApi, rollout_id: str, force: bool, as_json: bool) -> None:
    """Go to the next step now: without --force only if every gate passes (skips the rest of the bake)."""
    _command(api, rollout_id, "promote", as_json, {"force": force})
