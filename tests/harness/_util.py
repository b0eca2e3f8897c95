"""Small helpers shared by the harness: deadlines, free ports, unique names, process handling."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0


def wait_until(predicate: Callable[[], T], *, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.02,
               what: str = "condition") -> T:
    """Poll `predicate` until it returns a truthy value (returned) or `timeout` seconds pass (TimeoutError).

    This is the harness's only way to wait: tests must wait on conditions, never sleep a fixed time.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago (the caller retries if it gets taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def unique_id(prefix: str = "gw") -> str:
    """A fresh id usable as a gateway id, database name suffix or topic segment: `<prefix>-<10 hex>`."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def tail(path: Path, lines: int = 80) -> str:
    """The last `lines` lines of a log file ("" if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class OwnedProcess:
    """A child process started by the harness; only this object ever signals it (by its own pid)."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path | None = None) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          cwd=cwd, start_new_session=True)
        atexit.register(self.kill)  # if pytest dies before fixture teardown, do not leak the service

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        atexit.unregister(self.kill)

    def kill(self) -> None:
        """SIGKILL (a crash, as far as the service is concerned) and reap."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait(DEFAULT_TIMEOUT)
