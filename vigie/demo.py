"""`vigie demo`: from nothing, a local hub with simulated gateways for Paris, Lyon and Toulouse.

Steps (each reuses what a previous run left in the state directory):
PKI -> Mosquitto (mTLS) -> a demo model trained on simulator data and signed -> the hub (SQLite by default,
InfluxDB with --influx) -> gateways registered and assigned the model -> one agent per gateway config in
`firmware_configs/`. Ctrl-C stops every process the demo started, and only those.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import click

from vigie._procs import Supervisor, free_port, port_open, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_NAME = "demo-pump"
MODEL_VERSION = "1.0.0"


@dataclass(frozen=True)
class GatewaySpec:
    gateway: str
    site: str
    config: Path


@dataclass(frozen=True)
class DemoLayout:
    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def bundles(self) -> Path:
        return self.root / "bundles"

    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def agents(self) -> Path:
        return self.root / "agents"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


@click.command("demo")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=Path(".vigie/demo"),
              show_default=True, help="Where the PKI, model, databases and logs of the demo live.")
@click.option("--configs", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=REPO_ROOT / "firmware_configs", show_default=True, help="Gateway configs to simulate.")
@click.option("--api-port", type=int, default=8080, show_default=True, help="Hub HTTP port (0: any free port).")
@click.option("--mqtt-port", type=int, default=0, help="Broker TLS port (default: any free port).")
@click.option("--influx", "influx_url", default=None, help="Store series in this InfluxDB 1.x (e.g. http://127.0.0.1:8086).")
@click.option("--sample-period-ms", type=int, default=100, show_default=True,
              help="Sample period of every simulated equipment (10 Hz by default; faults start after ~2 min).")
@click.option("--duration", type=float, default=0.0, help="Stop after this many seconds (0: run until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON (for scripts and tests).")
def demo(state_dir: Path, configs: Path, api_port: int, mqtt_port: int, influx_url: str | None,
         sample_period_ms: int, duration: float, as_json: bool) -> None:
    """Run a local hub with simulated gateways (Paris x2, Lyon, Toulouse; about 50 equipment)."""
    layout = DemoLayout(state_dir.absolute())
    gateways = discover_gateways(configs)
    supervisor = Supervisor(layout.logs)
    _stop_on_signals()
    try:
        summary = _run(layout, gateways, supervisor, api_port, mqtt_port, influx_url, sample_period_ms, duration)
    except KeyboardInterrupt:
        summary = None
    except Exception as exc:
        supervisor.stop_all()
        click.echo(f"error: demo failed: {exc}", err=True)
        sys.exit(4)
    supervisor.stop_all()
    if summary is not None and as_json:
        click.echo(json.dumps(summary, indent=2))
    click.echo("demo stopped; state kept in " + str(layout.root), err=True)


def _stop_on_signals() -> None:
    def _interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)


def _run(layout: DemoLayout, gateways: list[GatewaySpec], supervisor: Supervisor, api_port: int, mqtt_port: int,
         influx_url: str | None, sample_period_ms: int, duration: float) -> dict[str, Any]:
    _step("PKI")
    make_pki(layout, gateways)
    _step("broker")
    mqtt_port = start_broker(layout, supervisor, mqtt_port or free_port())
    _step("demo model (train on simulator data, sign)")
    make_model(layout)
    _step("hub")
    api_port = api_port or free_port()
    hub = HubClient(f"http://127.0.0.1:{api_port}", layout.hub / "admin-password")
    start_hub(layout, supervisor, gateways, mqtt_port, api_port, influx_url)
    _step("gateways: assign the demo model, start the agents")
    assign_model(layout, gateways, mqtt_port)
    start_agents(layout, supervisor, gateways, mqtt_port, sample_period_ms)
    _print_banner(hub, layout, mqtt_port, gateways)
    return _watch(hub, supervisor, duration)


def _step(text: str) -> None:
    click.echo(f"[demo] {text}", err=True)


# -- configs ----------------------------------------------------------------------------------------------

def discover_gateways(configs: Path) -> list[GatewaySpec]:
    """Every `<site>/<gateway>.toml` under `configs`, validated by the agent's own loader."""
    from edge_agent.config import load_config

    specs = []
    for path in sorted(configs.glob("*/*.toml")):
        loaded = load_config(path, check_files=False)
        specs.append(GatewaySpec(loaded.agent.gateway.id, loaded.agent.gateway.site, path))
    if not specs:
        raise click.ClickException(f"no gateway configs under {configs}")
    return specs


# -- PKI and broker ---------------------------------------------------------------------------------------

def make_pki(layout: DemoLayout, gateways: list[GatewaySpec]) -> None:
    from vigie.pki import PkiPaths, init_pki, issue_gateway

    init_pki(layout.pki)
    paths = PkiPaths(layout.pki)
    for spec in gateways:
        if not paths.gateway_cert(spec.gateway).is_file():
            issue_gateway(layout.pki, spec.gateway)


def start_broker(layout: DemoLayout, supervisor: Supervisor, port: int) -> int:
    from vigie.broker import settings_for, write_broker_config

    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    user = "root" if os.geteuid() == 0 else _current_user()
    files = write_broker_config(layout.broker, settings_for(
        layout.broker, port=port, pki_dir=layout.pki, user=user, data_dir=layout.broker / "data"))
    child = supervisor.start("mosquitto", [mosquitto, "-c", str(files.config)])
    wait_until(lambda: port_open("127.0.0.1", port), 20, "Mosquitto to listen", watch=[child])
    return port


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


# -- model -----------------------------------------------------------------------------------------------

def make_model(layout: DemoLayout) -> Path:
    """Train and sign the demo model once; later runs reuse it."""
    from contracts.signing import generate_private_key, load_private_key, save_private_key, save_public_key

    key_path, pub_path = layout.keys / "release.key", layout.keys / "release.pub"
    if not key_path.is_file():
        key = generate_private_key()
        save_private_key(key, key_path)
        save_public_key(key.public_key(), pub_path)
    bundle = layout.bundles / MODEL_NAME / MODEL_VERSION
    if not (bundle / "manifest.sig").is_file():
        from model_export.train import TrainOptions, train_bundle

        options = TrainOptions(name=MODEL_NAME, version=MODEL_VERSION, algorithm="pca")
        train_bundle(bundle, simulate_rows=4000, options=options, sign_key=load_private_key(key_path))
    return bundle


# -- hub -------------------------------------------------------------------------------------------------

def start_hub(layout: DemoLayout, supervisor: Supervisor, gateways: list[GatewaySpec], mqtt_port: int,
              api_port: int, influx_url: str | None) -> None:
    from vigie.pki import PkiPaths

    password_file = layout.hub / "admin-password"
    if not password_file.is_file():
        from contracts import write_atomic

        write_atomic(password_file, os.urandom(18).hex().encode(), mode=0o600)
    config = write_hub_config(layout, mqtt_port, influx_url)
    env = {  # secrets travel in the environment, never in files or command lines
        "VIGIE_HUB_SECURITY__BOOTSTRAP_ADMIN": "admin",
        "VIGIE_HUB_SECURITY__BOOTSTRAP_ADMIN_PASSWORD": password_file.read_text().strip(),
    }
    pki = PkiPaths(layout.pki)
    vigie = [sys.executable, "-m", "vigie"]
    hub_config = ["--config", str(config)]
    known = supervisor.run_once("gateway-list", [*vigie, "hub", "gateway", "list", "--json", *hub_config], env=env)
    registered = {gw["id"] for gw in json.loads(known)}
    for spec in gateways:
        if spec.gateway not in registered:
            supervisor.run_once(f"register-{spec.gateway}", [*vigie, "hub", "gateway", "add", spec.gateway,
                                                             "--site", spec.site, "--cohort", _cohort(spec, gateways),
                                                             "--cert", str(pki.gateway_cert(spec.gateway)),
                                                             *hub_config], env=env)
    child = supervisor.start("hub", [*vigie, "hub", "serve", *hub_config, "--host", "127.0.0.1",
                                       "--port", str(api_port)], env=env)
    wait_until(lambda: port_open("127.0.0.1", api_port), 60, "the hub API", watch=[child])


def write_hub_config(layout: DemoLayout, mqtt_port: int, influx_url: str | None) -> Path:
    """The hub's TOML settings for the demo (dev mode; no secrets in it)."""
    from vigie.pki import PkiPaths

    pki = PkiPaths(layout.pki)
    series = (f'[series]\nbackend = "influxdb1"\nurl = {json.dumps(influx_url)}\n' if influx_url
              else '[series]\nbackend = "sqlite"\n')
    text = f"""# Written by `vigie demo`.
mode = "dev"
data_dir = {_toml_str(layout.hub)}
log_format = "json"

{series}
[mqtt]
host = "localhost"
port = {mqtt_port}
ca_file = {_toml_str(pki.ca_bundle)}
cert_file = {_toml_str(pki.hub_cert)}
key_file = {_toml_str(pki.hub_key)}
"""
    path = layout.hub / "hub.toml"
    path.write_text(text)
    return path


def _cohort(spec: GatewaySpec, gateways: list[GatewaySpec]) -> str:
    """The first gateway of each site is green (canary), the others blue."""
    first_of_site = next(g for g in gateways if g.site == spec.site)
    return "green" if first_of_site == spec else "blue"


def assign_model(layout: DemoLayout, gateways: list[GatewaySpec], mqtt_port: int) -> None:
    """Publish the retained desired state (demo model active) for every gateway, as the hub."""
    from contracts import topics
    from contracts.messages import DesiredState, ModelRef
    from vigie._mqtt import publish_retained
    from vigie.pki import PkiPaths

    pki = PkiPaths(layout.pki)
    now_ms = int(time.time() * 1000)
    messages = {
        topics.down(spec.gateway): DesiredState(gateway=spec.gateway, seq=now_ms, issued_at=now_ms,
                                                active=ModelRef(name=MODEL_NAME, version=MODEL_VERSION)).to_bytes()
        for spec in gateways
    }
    publish_retained("localhost", mqtt_port, pki.ca_bundle, pki.hub_cert, pki.hub_key, messages)


# -- agents ----------------------------------------------------------------------------------------------

def start_agents(layout: DemoLayout, supervisor: Supervisor, gateways: list[GatewaySpec], mqtt_port: int,
                 sample_period_ms: int) -> None:
    children = []
    for spec in gateways:
        config = write_agent_config(layout, spec, mqtt_port, sample_period_ms, health_port=free_port())
        children.append(supervisor.start(f"agent-{spec.gateway}", [
            sys.executable, "-m", "vigie", "agent", "run", "--config", str(config),
            "--state-dir", str(layout.agents / spec.gateway / "state")]))
    time.sleep(1.0)
    dead = [child for child in children if not child.alive()]
    if dead:
        raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].log_tail()}")


def write_agent_config(layout: DemoLayout, spec: GatewaySpec, mqtt_port: int, sample_period_ms: int,
                       health_port: int) -> Path:
    """The firmware config with this machine's broker, certificates, keys and bundles substituted in."""
    from vigie.pki import PkiPaths

    pki = PkiPaths(layout.pki)
    replacements = {
        ("broker", "url"): f'"mqtts://localhost:{mqtt_port}"',
        ("broker", "ca"): _toml_str(pki.ca_bundle),
        ("broker", "cert"): _toml_str(pki.gateway_cert(spec.gateway)),
        ("broker", "key"): _toml_str(pki.gateway_key(spec.gateway)),
        ("models", "release_keys"): f"[{_toml_str(layout.keys / 'release.pub')}]",
        ("models", "bundles_dir"): _toml_str(layout.bundles),
        ("health", "port"): str(health_port),
        ("equipment", "sample_period_ms"): str(sample_period_ms),
    }
    text = _substitute(spec.config.read_text(), replacements)
    target = layout.agents / spec.gateway / "agent.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _toml_str(path: Path) -> str:
    return json.dumps(str(path))


def _substitute(text: str, replacements: dict[tuple[str, str], str]) -> str:
    """Replace `key = value` lines inside the named TOML tables (line-based; our configs are flat)."""
    out, table = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped.strip("[]").split(".")[0]
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith("#") else ""
        value = replacements.get((table, key))
        out.append(f"{key} = {value}" if value is not None else line)
    return "\n".join(out) + "\n"


# -- live summary ----------------------------------------------------------------------------------------

class HubClient:
    """The few API calls the demo's summary needs, as the bootstrap admin."""

    def __init__(self, url: str, password_file: Path) -> None:
        self.url = url
        self.password_file = password_file
        self._token: str | None = None

    def get(self, path: str) -> Any:
        import httpx

        for _ in range(2):
            response = httpx.get(self.url + path, headers=self._headers(), timeout=10)
            if response.status_code == 401:
                self._token = None
                continue
            response.raise_for_status()
            return response.json()
        raise RuntimeError(f"GET {path}: unauthorised")

    def _headers(self) -> dict[str, str]:
        import httpx

        if self._token is None:
            response = httpx.post(self.url + "/api/v1/auth/token", timeout=10, data={
                "username": "admin", "password": self.password_file.read_text().strip(),
                "grant_type": "password"})
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return {"Authorization": f"Bearer {self._token}"}


def _print_banner(hub: HubClient, layout: DemoLayout, mqtt_port: int, gateways: list[GatewaySpec]) -> None:
    sites = sorted({g.site for g in gateways})
    click.echo(f"""
Vigie demo is running ({len(gateways)} gateways on {', '.join(sites)}).
  Dashboard   {hub.url}/
  API docs    {hub.url}/docs
  Metrics     {hub.url}/metrics
  Login       admin / password in {hub.password_file}
  Broker      mqtts://localhost:{mqtt_port} (client certificates in {layout.pki})
  Logs        {layout.logs}
Ctrl-C stops everything the demo started.
""", err=True)


def summarize(hub: HubClient) -> dict[str, Any]:
    gateways = hub.get("/api/v1/gateways")
    equipment = hub.get("/api/v1/equipment")
    events = hub.get("/api/v1/events?limit=200")["items"]
    sites: dict[str, dict[str, int]] = {}
    for gw in gateways:
        site = sites.setdefault(gw["site"], {"gateways": 0, "online": 0, "equipment": 0, "scored": 0,
                                             "anomalous": 0})
        site["gateways"] += 1
        site["online"] += int(gw["status"] == "online")
    for eq in equipment:
        site = sites.setdefault(eq["site"], {"gateways": 0, "online": 0, "equipment": 0, "scored": 0,
                                             "anomalous": 0})
        site["equipment"] += 1
        latest = eq.get("latest") or {}
        site["scored"] += int(latest.get("anomaly_score") is not None)
        site["anomalous"] += int(bool(latest.get("is_anomaly")))
    anomalies = [e for e in events if e["kind"] == "anomaly_start"]
    return {"sites": sites, "anomaly_starts": len(anomalies)}


def _watch(hub: HubClient, supervisor: Supervisor, duration: float) -> dict[str, Any]:
    deadline = time.monotonic() + duration if duration > 0 else None
    summary: dict[str, Any] = {}
    while deadline is None or time.monotonic() < deadline:
        dead = supervisor.dead()
        if dead:
            raise RuntimeError(f"{dead[0].name} exited:\n{dead[0].log_tail()}")
        try:
            summary = summarize(hub)
        except Exception as exc:  # the summary is informative; a slow API must not stop the demo
            click.echo(f"[demo] summary unavailable: {exc}", err=True)
        else:
            click.echo(_summary_line(summary), err=True)
        time.sleep(5.0)
    return summary


def _summary_line(summary: dict[str, Any]) -> str:
    parts = [f"{site}: {s['online']}/{s['gateways']} gw online, {s['scored']}/{s['equipment']} eq scored, "
             f"{s['anomalous']} anomalous"
             for site, s in sorted(summary["sites"].items())]
    return f"[{time.strftime('%H:%M:%S')}] " + " | ".join(parts) + f" | anomaly starts: {summary['anomaly_starts']}"
