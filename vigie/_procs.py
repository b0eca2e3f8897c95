"""Child processes of `vigie demo`: started with their output in log files, stopped in reverse order."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vigie._errors import VigieError


class ProcessError(VigieError):
    """A child process died or never became ready."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Supervisor:
    """Starts children, checks they stay up, and stops every one it started (SIGTERM, then SIGKILL)."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def run_once(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
                 timeout_s: float = 120.0) -> str:
        """Run a short command to completion; return its stdout, raise ProcessError (with stderr) on failure."""
        result = subprocess.run(list(argv), capture_output=True, env={**os.environ, **(env or {})},
                                timeout=timeout_s, check=False, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise ProcessError(f"{name} failed ({result.returncode}): {result.stderr.decode(errors='replace')[-2000:]}")
        return result.stdout.decode()

    def dead(self) -> list[Child]:
        return [child for child in self.children if not child.alive()]

    def stop_all(self, grace_s: float = 10.0) -> None:
        for child in reversed(self.children):
            _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for child in reversed(self.children):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                _signal(child, signal.SIGKILL)
                child.process.wait(5)
        self.children.clear()


def _signal(child: Child, signum: int) -> None:
    if child.alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signum)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str,
               watch: Sequence[Child] = ()) -> None:
    """Poll `predicate` until true; fail early, with its log, if a watched child dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        for child in watch:
            if not child.alive():
                raise ProcessError(f"{child.name} exited with {child.process.returncode}:\n{child.log_tail()}")
        time.sleep(0.2)
    raise ProcessError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
