"""The README's main command, end to end: `vigie demo` on real Mosquitto, hub, agents and onnxruntime."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _processes_of_state_dir(state_dir: Path) -> dict[int, str]:
    """pid -> command line of live processes that mention the demo's state directory (mosquitto, hub, agents)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(state_dir) in cmdline:
            found[int(proc.name)] = cmdline
    return found


def _children_of_state_dir(state_dir: Path) -> list[str]:
    return list(_processes_of_state_dir(state_dir).values())


def _kill_everything_of(demo: subprocess.Popen[bytes], state_dir: Path) -> None:
    """Test cleanup when an assertion failed mid-run: the demo and every child it started (own sessions)."""
    if demo.poll() is None:
        os.killpg(demo.pid, signal.SIGKILL)
    for pid in _processes_of_state_dir(state_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_demo_runs_every_site_and_stops_what_it_started(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "vigie", "demo", "--state-dir", str(state_dir), "--api-port", "0",
         "--sample-period-ms", "50", "--duration", "40", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, start_new_session=True,
    )
    try:
        out, err = demo.communicate(timeout=240)
        left = _children_of_state_dir(state_dir)  # before the cleanup below, which kills whatever is left
    finally:
        _kill_everything_of(demo, state_dir)
    assert demo.returncode == 0, err.decode()[-3000:]
    summary = json.loads(out)
    sites = summary["sites"]
    assert set(sites) == {"paris", "lyon", "toulouse"}
    assert sum(site["gateways"] for site in sites.values()) == 4
    for name, site in sites.items():
        assert site["online"] == site["gateways"], (name, site)
        assert site["equipment"] > 0 and site["scored"] == site["equipment"], (name, site)
    assert sum(site["equipment"] for site in sites.values()) >= 45
    assert left == []


def test_ctrl_c_stops_every_process_the_demo_started(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "vigie", "demo", "--state-dir", str(state_dir), "--api-port", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        log = b""
        assert demo.stderr is not None
        while b"Ctrl-C stops everything" not in log and time.monotonic() < deadline and demo.poll() is None:
            log += demo.stderr.readline()
        assert b"Ctrl-C stops everything" in log, log.decode()[-3000:]
        assert len(_children_of_state_dir(state_dir)) >= 7  # demo, mosquitto, hub, 4 agents
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
        left = _children_of_state_dir(state_dir)
    finally:
        _kill_everything_of(demo, state_dir)
    assert left == []
