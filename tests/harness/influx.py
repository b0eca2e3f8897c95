"""A real InfluxDB 1.x (`/usr/bin/influxd`, Debian 1.6.7) in a temp dir, no auth, on free loopback ports.

    influx = InfluxD(tmp_dir).start()       # waits for GET /ping -> 204
    influx.create_database("t1"); influx.write("t1", "m,tag=a v=1 1700000000000")
    influx.query("SELECT * FROM m", db="t1")  # -> parsed JSON of /query
    influx.stop(); influx.start()           # outage: same ports, same data

Only the stdlib `urllib` is used, so the harness does not depend on a client library.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness._util import DEFAULT_TIMEOUT, ServiceProcess, free_port, tail

_CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
  index-version = "inmem"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true

[subscriber]
  enabled = false

[continuous_queries]
  log-enabled = false
"""


def influxd_binary() -> str:
    """Path of `influxd`, or a clear failure (ops setup installs the Debian `influxdb` package)."""
    path = shutil.which("influxd")
    if not path:
        raise RuntimeError("influxd is not installed (apt-get install influxdb): the InfluxDB tests need it")
    return path


class InfluxError(RuntimeError):
    """An HTTP error from influxd (status and body in the message)."""


class InfluxD(ServiceProcess):
    """One influxd process. Attributes: `host`, `http_port`, `url` (http://127.0.0.1:PORT), `workdir`,
    `config_path`, `log_path`. Ports are kept across `stop()`/`start()`; data persists in `workdir`.
    """

    name = "influxd"
    start_timeout = 30.0

    def __init__(self, workdir: Path) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.http_port = free_port(self.host)
        self.rpc_port = free_port(self.host)
        self.url = f"http://{self.host}:{self.http_port}"
        self.config_path = self.workdir / "influxdb.conf"
        self.log_path = self.workdir / "influxd.log"
        self._binary = influxd_binary()
        self._write_config()

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(_CONFIG.format(root=self.workdir, rpc_port=self.rpc_port,
                                                   http_port=self.http_port))

    def _argv(self) -> list[str]:
        return [self._binary, "run", "-config", str(self.config_path)]

    def _is_ready(self) -> bool:
        """/ping answers 204."""
        return self.ping()

    def _rebind(self) -> None:
        self.http_port, self.rpc_port = free_port(self.host), free_port(self.host)
        self.url = f"http://{self.host}:{self.http_port}"
        self._write_config()

    def start(self, timeout: float | None = None) -> InfluxD:
        """Start influxd (no-op if running) and wait until /ping answers 204."""
        self._start(timeout)
        return self

    def restart(self, timeout: float | None = None) -> InfluxD:
        self.stop()
        return self.start(timeout)

    # -- HTTP API (InfluxDB 1.x) ---------------------------------------------------------------------
    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as resp:
                return int(resp.status) == 204
        except (urllib.error.URLError, OSError):
            return False

    def _request(self, path: str, params: dict[str, str], body: bytes | None = None) -> bytes:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=DEFAULT_TIMEOUT) as resp:
                data: bytes = resp.read()
                return data
        except urllib.error.HTTPError as exc:
            raise InfluxError(f"{path} -> HTTP {exc.code}: {exc.read().decode(errors='replace')}") from exc

    def query(self, q: str, db: str | None = None, epoch: str = "ms") -> dict[str, Any]:
        """POST /query (InfluxQL); returns the parsed JSON, raising InfluxError on a statement error."""
        params = {"q": q, "epoch": epoch, **({"db": db} if db else {})}
        doc: dict[str, Any] = json.loads(self._request("/query", params))
        errors = [r["error"] for r in doc.get("results", []) if "error" in r]
        if errors:
            raise InfluxError(f"query {q!r} failed: {errors}")
        return doc

    def write(self, db: str, lines: str | bytes, precision: str = "ms") -> None:
        """POST /write with line protocol (precision ms by default, as Vigie stores)."""
        body = lines.encode() if isinstance(lines, str) else lines
        self._request("/write", {"db": db, "precision": precision}, body)

    def create_database(self, name: str) -> str:
        self.query(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.query(f'DROP DATABASE "{name}"')

    def failure_report(self) -> tuple[str, str]:
        return (f"influxd log {self.url} (tail)", tail(self.log_path))

    def __repr__(self) -> str:
        return f"InfluxD({self.url}, running={self.running})"
