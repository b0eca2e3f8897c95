"""A real Mosquitto broker configured by `vigie.broker` with a PKI made by `vigie.pki`.

    broker = MosquittoBroker(tmp_dir, pki).start()     # free loopback port, waits for a hub CONNACK
    broker.stop(); broker.start()                      # outage: same port, same config (and data dir)
    broker.kill()                                      # crash: SIGKILL, no persistence flush
    broker.reload()                                    # SIGHUP: re-reads the CRL and the ACL file

The broker log (`log_path`) is appended to the error when the broker does not come up, and the
conftest adds its tail to the report of a failing test that used the fixture.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from tests.harness._util import ServiceProcess, free_port, tail, wait_until
from tests.harness.mqtt import try_connect
from tests.harness.pki import ClientCert, HarnessPki
from vigie import broker as broker_lib


def mosquitto_binary() -> str:
    """Path of `mosquitto`, or a clear failure (ops setup installs the Debian package)."""
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not path:
        raise RuntimeError("mosquitto is not installed (apt-get install mosquitto): the broker tests need it")
    return path


class MosquittoBroker(ServiceProcess):
    """One Mosquitto process on 127.0.0.1 with an mTLS listener, Vigie ACLs and `user root`.

    Attributes: `host`, `port`, `ca` (CA bundle path), `hub` (ClientCert of CN vigie-hub), `pki`
    (HarnessPki), `workdir`, `config_path`, `log_path`, `data_dir` (None without persistence).
    The port is chosen once and kept across `stop()`/`start()`.
    """

    name = "mosquitto"
    start_timeout = 15.0

    def __init__(self, workdir: Path, pki: HarnessPki, *, persistence: bool = False, port: int | None = None) -> None:
        super().__init__()
        self.workdir = Path(workdir)
        self.pki = pki
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.ca: Path = pki.ca
        self.hub: ClientCert = pki.hub
        self.log_path = self.workdir / "mosquitto.log"
        self.data_dir = self.workdir / "data" if persistence else None
        self.config_path = self.workdir / broker_lib.CONFIG_NAME
        self._binary = mosquitto_binary()
        self._write_config()

    def _write_config(self) -> None:
        settings = broker_lib.settings_for(self.workdir, port=self.port, pki_dir=self.pki.dir, bind=self.host,
                                           user="root", data_dir=self.data_dir)
        broker_lib.write_broker_config(self.workdir, settings)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _argv(self) -> list[str]:
        return [self._binary, "-c", str(self.config_path)]

    def _is_ready(self) -> bool:
        """The hub certificate gets a CONNACK over TLS."""
        return try_connect(self, self.hub, timeout=2.0).ok

    def _rebind(self) -> None:
        self.port = free_port(self.host)
        self._write_config()

    def start(self, timeout: float | None = None) -> MosquittoBroker:
        """Start the broker (no-op if running) and wait until the hub cert gets a CONNACK over TLS."""
        self._start(timeout)
        return self

    def restart(self, timeout: float | None = None) -> MosquittoBroker:
        """Graceful stop (SIGTERM: persistence is saved), then start on the same port."""
        self.stop()
        return self.start(timeout)

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its config, the ACL file and the CRL (new connections see the change)."""
        if self._proc is None or not self._proc.alive():
            raise RuntimeError("mosquitto is not running")
        marker = self.log_text().count("Reloading config.")
        self._proc.signal(signal.SIGHUP)
        wait_until(lambda: self.log_text().count("Reloading config.") > marker, what="mosquitto config reload")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def failure_report(self) -> tuple[str, str]:
        """(title, text) that the conftest attaches to a failing test's report."""
        return (f"mosquitto log {self.host}:{self.port} (tail)", tail(self.log_path))

    def __repr__(self) -> str:
        return f"MosquittoBroker({self.host}:{self.port}, running={self.running})"
