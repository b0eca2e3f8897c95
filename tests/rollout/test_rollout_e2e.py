"""End to end: real Mosquitto (mTLS), a real hub (ingest, registry, TUF, rollout controller), six real agents
over three sites fetching bundles from the hub over TUF. No mocks; conditions are waited on with deadlines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.rollout._fleet import FAST_GATES, Fleet, HubHandle, hub_settings, running_fleet, running_hub, wait_for
from vigie.cli import cli

pytestmark = pytest.mark.integration
TERMINAL = ("completed", "rolled_back")


@pytest.fixture
def gates_file(tmp_path: Path) -> Path:
    path = tmp_path / "gates.json"
    path.write_text(json.dumps(FAST_GATES))
    return path


@pytest.fixture
def hub(tmp_path: Path, mosquitto: Any, release_pub: Path, bundle_tars: dict[str, Path]) -> Iterator[HubHandle]:
    with running_hub(hub_settings(tmp_path, mosquitto, release_pub)) as handle:
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            handle.call("POST", "/api/v1/models", 201, content=bundle_tars[version].read_bytes(),
                        headers={"Content-Type": "application/x-tar"})
        yield handle


@pytest.fixture
def fleet(tmp_path: Path, mosquitto: Any, pki: Any, hub: HubHandle, release_pub: Path) -> Iterator[Fleet]:
    with running_fleet(tmp_path, mosquitto, pki, hub, release_pub) as running:
        wait_for(lambda: _all_reported(hub, running), 60, "every agent to report its state")
        yield running


def _all_reported(hub: HubHandle, fleet: Fleet) -> bool:
    rows = hub.call("GET", "/api/v1/gateways")
    return all(r["state_seq"] is not None for r in rows if r["id"] in fleet.gateways)


def _start(hub: HubHandle, version: str, gates_file: Path, bake: str = "3s") -> str:
    """`vigie rollout start` as an operator would run it."""
    env = {"VIGIE_HUB_URL": hub.url, "VIGIE_TOKEN": _operator_token(hub)}
    args = ["rollout", "start", "pump", version, "--bake", bake, "--gates", str(gates_file), "--json"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    rollout_id: str = json.loads(result.output)["id"]
    return rollout_id


def _operator_token(hub: HubHandle) -> str:
    name = "operator"
    users = [u["name"] for u in hub.call("GET", "/api/v1/users")]
    if name not in users:
        hub.call("POST", "/api/v1/users", 201, json={"name": name, "role": "operator", "kind": "service"})
    token: str = hub.call("POST", f"/api/v1/users/{name}/tokens", 201, json={"label": "e2e"})["token"]
    return token


def _detail(hub: HubHandle, rollout_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = hub.call("GET", f"/api/v1/rollouts/{rollout_id}")
    return detail


def _finish(hub: HubHandle, rollout_id: str, timeout: float = 120) -> dict[str, Any]:
    return wait_for(lambda: (d := _detail(hub, rollout_id))["phase"] in TERMINAL and d, timeout,
                    f"rollout {rollout_id} to finish", poll=0.25)


def _explain(detail: dict[str, Any]) -> str:
    """Why a rollout ended where it did (pytest would truncate the whole detail)."""
    history = [(h["phase"], h["stage"], h["outcome"], [(r["name"], r["status"], r["detail"]) for r in h["results"]])
               for h in detail["history"]]
    return f"{detail['phase']}: {detail['reason']!r}; history {history}; gateways {_versions(detail)}"


def _versions(detail: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {g["gateway"]: (g["active"] and g["active"]["version"], g["shadow"] and g["shadow"]["version"])
            for g in detail["gateways"]}


def _bootstrap(hub: HubHandle, gates_file: Path) -> None:
    """Every gateway starts with nothing: roll 1.0.0 out (no shadow stage: nothing to compare with)."""
    done = _finish(hub, _start(hub, "1.0.0", gates_file))
    assert done["phase"] == "completed", _explain(done)
    assert set(_versions(done).values()) == {("1.0.0", None)}


def _outcomes(detail: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(h["phase"], h["stage"], h["outcome"]) for h in detail["history"]]


def test_good_version_completes(hub: HubHandle, fleet: Fleet, gates_file: Path) -> None:
    _bootstrap(hub, gates_file)
    env = {"VIGIE_HUB_URL": hub.url, "VIGIE_TOKEN": _operator_token(hub)}
    args = ["rollout", "start", "pump", "1.1.0", "--bake", "3s", "--gates", str(gates_file), "--wait"]
    followed = CliRunner().invoke(cli, args, env=env)  # an operator following it: exit 0 once completed
    assert followed.exit_code == 0, followed.output
    rollout_id = followed.output.split(":", 1)[0]
    for stage in ("green_baking/shadow", "green_baking/active", "blue_baking/"):  # each bakes >= 3 s: polled
        assert re.search(rf"{stage} +3/3 gateways report the assigned models", followed.output), followed.output
    done = _detail(hub, rollout_id)
    sites = {fleet.gateways[g] for g in done["green"]}
    assert len(done["green"]) == 3 and sites == {"paris", "lyon", "toulouse"}
    assert done["phase"] == "completed", _explain(done)
    assert _outcomes(done) == [("green_baking", "shadow", "passed"), ("green_baking", "active", "passed"),
                               ("blue_baking", None, "passed")]
    ml = next(r for r in done["history"][0]["results"] if r["name"] == "ml_quality")
    assert ml["status"] == "pass", ml
    assert set(_versions(done).values()) == {("1.1.0", None)}
    audit = [e["entry"]["type"] for e in hub.call("GET", "/api/v1/audit/entries", params={"limit": 1000})["entries"]]
    assert {"rollout.create", "rollout.green_rolling", "rollout.blue_rolling", "rollout.completed"} <= set(audit)


def test_over_alarming_version_is_stopped_at_green(hub: HubHandle, fleet: Fleet, gates_file: Path) -> None:
    _bootstrap(hub, gates_file)
    before = {g["gateway"]: g["desired_seq"] for g in _detail(hub, _start_and_finish(hub, "1.1.0", gates_file))
              ["gateways"]}
    rollout_id = _start(hub, "1.2.0", gates_file)
    done = _finish(hub, rollout_id)
    assert done["phase"] == "rolled_back", _explain(done)
    assert "ml_quality" in done["reason"]
    assert _outcomes(done) == [("green_baking", "shadow", "failed")]
    green, blue = set(done["green"]), set(done["blue"])
    assert set(done["changed"]) == green
    versions = _versions(done)
    assert all(versions[g] == ("1.1.0", None) for g in green | blue), versions
    after = {g["gateway"]: g["desired_seq"] for g in done["gateways"]}
    assert all(after[g] == before[g] for g in blue), "blue gateways must not have been sent anything"
    assert all(after[g] > before[g] for g in green)


def _start_and_finish(hub: HubHandle, version: str, gates_file: Path) -> str:
    rollout_id = _start(hub, version, gates_file)
    done = _finish(hub, rollout_id)
    assert done["phase"] == "completed", _explain(done)
    return rollout_id


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def test_hub_restart_mid_rollout_resumes(
    tmp_path: Path, mosquitto: Any, pki: Any, release_pub: Path, bundle_tars: dict[str, Path], gates_file: Path,
    database_url: str,
) -> None:
    settings = hub_settings(tmp_path, mosquitto, release_pub, database_url=database_url)
    with running_hub(settings) as hub:
        for version in ("1.0.0", "1.1.0"):
            hub.call("POST", "/api/v1/models", 201, content=bundle_tars[version].read_bytes(),
                     headers={"Content-Type": "application/x-tar"})
        with running_fleet(tmp_path, mosquitto, pki, hub, release_pub) as fleet:
            wait_for(lambda: _all_reported(hub, fleet), 60, "every agent to report its state")
            _bootstrap(hub, gates_file)
            rollout_id = _start(hub, "1.1.0", gates_file, bake="4s")
            wait_for(lambda: _detail(hub, rollout_id)["phase"] == "green_baking", 60, "green to bake")
            hub.server.stop()  # mid-bake; agents keep running and reporting to the broker
            restarted = running_hub(settings, port=int(hub.url.rsplit(":", 1)[1]))  # the URL agents know
            with restarted as again:
                done = _finish(again, rollout_id)
                assert done["phase"] == "completed", _explain(done)
                assert set(_versions(done).values()) == {("1.1.0", None)}
                assert [o for *_, o in _outcomes(done)] == ["passed", "passed", "passed"]


def _cli(hub: HubHandle, token: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["rollout", *args], env={"VIGIE_HUB_URL": hub.url, "VIGIE_TOKEN": token})


def test_operator_commands_hold_force_and_abort(hub: HubHandle, fleet: Fleet, tmp_path: Path,
                                                gates_file: Path) -> None:
    _bootstrap(hub, gates_file)
    hold = tmp_path / "hold.json"
    hold.write_text(json.dumps({**FAST_GATES, "on_failure": "hold"}))
    operator = _operator_token(hub)
    admin = hub.client.headers["Authorization"].removeprefix("Bearer ")
    rollout_id = _start(hub, "1.2.0", hold)
    assert _cli(hub, operator, "pause", rollout_id).exit_code == 0
    assert _detail(hub, rollout_id)["phase"] == "paused"
    assert _cli(hub, operator, "resume", rollout_id).exit_code == 0
    held = wait_for(lambda: (d := _detail(hub, rollout_id))["phase"] == "paused" and d["reason"] and d, 60,
                    "the failing ML gate to hold the rollout")
    assert "ml_quality" in held["reason"] and held["paused_from"] == "green_baking"
    assert _cli(hub, operator, "pause", rollout_id).exit_code == 1  # already paused: the machine refuses
    refused = _cli(hub, operator, "promote", rollout_id, "--force")
    assert refused.exit_code == 3 and "admin" in refused.output
    assert _cli(hub, admin, "promote", rollout_id, "--force").exit_code == 0
    wait_for(lambda: all(v == ("1.2.0", None) for g, v in _versions(_detail(hub, rollout_id)).items()
                         if g in held["green"]), 60, "green to run the forced version")
    result = _cli(hub, operator, "abort", rollout_id, "--reason", "too many alarms")
    assert result.exit_code == 0, result.output
    done = _finish(hub, rollout_id)
    assert done["phase"] == "rolled_back" and "too many alarms" in done["reason"], _explain(done)
    assert ("green_baking", "shadow", "forced") in _outcomes(done)
    assert set(_versions(done).values()) == {("1.0.0", None)}, "rollback restores the previous version"
    assert set(done["changed"]) == set(done["green"])


class _CorruptingFetcher:
    """This gateway's downloads of one version arrive damaged (disk or link corruption): verification refuses."""

    def __init__(self, inner: Any, version: str) -> None:
        self.inner, self.version = inner, version

    def fetch(self, ref: Any, staging: Path) -> Path:
        path: Path = self.inner.fetch(ref, staging)
        if ref.version == self.version:
            target = path / "model.onnx" if path.is_dir() else path
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))
        return path


def test_a_version_that_fails_to_load_on_one_green_gateway_is_rolled_back(
    hub: HubHandle, fleet: Fleet, gates_file: Path
) -> None:
    boot = _start_and_finish(hub, "1.0.0", gates_file)  # every gateway on 1.0.0
    before = {g["gateway"]: g["desired_seq"] for g in _detail(hub, boot)["gateways"]}
    victim = min(g for g, site in fleet.gateways.items() if site == "paris")  # the planner's green for paris
    manager = fleet.agents[victim].manager
    manager.fetcher = _CorruptingFetcher(manager.fetcher, "1.1.0")  # a good version, damaged on one gateway
    rollout_id = _start(hub, "1.1.0", gates_file)
    done = _finish(hub, rollout_id)
    assert done["phase"] == "rolled_back", _explain(done)
    assert victim in done["green"]
    assert "no_failures" in done["reason"] and "ml_quality" not in done["reason"], done["reason"]
    versions = _versions(done)
    assert all(v == ("1.0.0", None) for v in versions.values()), versions  # every gateway on the previous one
    after = {g["gateway"]: g["desired_seq"] for g in done["gateways"]}
    assert all(after[g] == before[g] for g in done["blue"]), "blue gateways must not have been sent anything"
