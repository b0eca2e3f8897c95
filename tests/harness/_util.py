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


class ServiceProcess:
    """A service the harness runs (Mosquitto, influxd): start with readiness wait, stop, kill, restart.

    Subclasses set `name`, `log_path` and `start_timeout`, and implement `_argv` (command line), `_is_ready`
    (one readiness probe) and `_rebind` (pick new free ports and rewrite the config). On the first start only, a
    port taken meanwhile by someone else makes it rebind and retry; a restart keeps its ports, so clients
    reconnect to the same address.
    """

    name = "service"
    start_timeout = 15.0
    log_path: Path

    def __init__(self) -> None:
        self._proc: OwnedProcess | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _rebind(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.alive()

    def _start(self, timeout: float | None) -> None:
        if self.running:
            return
        first = self._proc is None
        for _attempt in range(3 if first else 1):
            self._proc = OwnedProcess(self._argv(), self.log_path)
            try:
                self._wait_ready(timeout or self.start_timeout)
                return
            except RuntimeError:
                if not (first and "address already in use" in tail(self.log_path, 10).lower()):
                    raise
                self._rebind()
        raise RuntimeError(f"{self.name} could not bind its ports:\n{tail(self.log_path)}")

    def _wait_ready(self, timeout: float) -> None:
        proc = self._proc
        assert proc is not None

        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{self.name} exited with code {proc.popen.returncode}")
            return self._is_ready()

        try:
            wait_until(ready, timeout=timeout, interval=0.05, what=f"{self.name} to be ready")
        except (RuntimeError, TimeoutError) as exc:
            proc.kill()
            raise RuntimeError(f"{exc}; {self.name} log {self.log_path}:\n{tail(self.log_path)}") from exc

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """SIGTERM this service (only its own pid) and wait for it to exit."""
        if self._proc is not None:
            self._proc.stop(timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the service is concerned."""
        if self._proc is not None:
            self._proc.kill()

    def pause(self) -> None:
        """SIGSTOP: the service hangs (its sockets stay open, nothing is answered) until `resume()`."""
        if self._proc is not None:
            self._proc.signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.signal(signal.SIGCONT)
