"""Helpers for the registry and end-to-end rollout tests: bundles, a real hub, a fleet of real agents."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.manifest import Manifest, ThresholdSpec
from contracts.signing import sign_bytes
from edge_agent.agent import Agent
from edge_agent.config import load_config
from edge_agent.fetchers.tuf_fetcher import TufFetcher, TufSettings
from hub.app import HubServer
from hub.settings import HubSettings, load_settings
from model_export.bundle import pack_tar_bytes, write_bundle
from tests.agent.helpers import agent_config, simulated
from tests.harness import unique_id, wait_until

ADMIN, ADMIN_PASSWORD = "rollout-admin", "rollout-admin-password-0123"
FAST_GATES: dict[str, Any] = {
    "deadline": "60s",
    "rollback_deadline": "60s",
    "health": {"max_error_rate": 0.01, "max_latency_ratio": 50.0},
    "ml": {"min_pairs": 60, "max_rate_increase": 0.05, "max_rate_decrease": 0.05, "min_agreement": 0.9},
}
"""Gates for the end-to-end tests. Latency is compared with a wide ratio: agents share two CPU cores with the
hub and the broker here, and the latency gate's arithmetic is covered by the unit tests."""


@dataclass(frozen=True)
class Trained:
    manifest: Manifest
    model_bytes: bytes


def bundle_tar(directory: Path, trained: Trained, version: str, key: Ed25519PrivateKey,
               threshold: float | None = None) -> Path:
    """`<directory>/pump-<version>.tar`, signed by `key`; `threshold` overrides the calibrated one."""
    manifest = trained.manifest.model_copy(update={"version": version})
    if threshold is not None:
        spec = manifest.threshold
        manifest = manifest.model_copy(update={"threshold": ThresholdSpec(value=threshold, method=spec.method)})
    folder = write_bundle(directory / manifest.name / version, trained.model_bytes, manifest,
                          sign_bytes(key, manifest.canonical_bytes()))
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    out = directory / f"{manifest.name}-{version}.tar"
    out.write_bytes(pack_tar_bytes(files))
    return out


def hub_settings(workdir: Path, broker: Any, release_pub: Path, **overrides: Any) -> HubSettings:
    """Settings of a hub for these tests; without a broker, ingest and the rollout controller are off."""
    mqtt: dict[str, Any] = {}
    if broker is not None:
        mqtt = {"host": broker.host, "port": broker.port, "ca_file": broker.ca, "cert_file": broker.hub.cert,
                "key_file": broker.hub.key, "client_id": unique_id("hub"), "session_expiry_s": 120}
    values: dict[str, Any] = {
        "data_dir": workdir / "hub",
        "database_url": f"sqlite:///{workdir / 'hub.db'}",
        "log_format": "text",
        "series": {"backend": "sqlite", "sqlite_path": workdir / "series.db"},
        "mqtt": mqtt,
        "ingest": {"batch_max_ms": 20, "backoff_initial_ms": 50, "backoff_max_ms": 500, "enabled": broker is not None},
        "security": {"bootstrap_admin": ADMIN, "bootstrap_admin_password": ADMIN_PASSWORD},
        "registry": {"release_keys": [release_pub]},
        "rollout": {"tick_s": 0.2, "default_bake": "3s", "enabled": broker is not None},
        "api": {"port": 0},
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class HubHandle:
    url: str
    settings: HubSettings
    server: HubServer
    client: httpx.Client

    def call(self, method: str, path: str, expect: int | tuple[int, ...] = 200, **kw: Any) -> Any:
        response = self.client.request(method, path, **kw)
        wanted = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in wanted, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def token_for(self, name: str, role: str) -> str:
        """An API token of a new service account with `role`."""
        self.call("POST", "/api/v1/users", 201, json={"name": name, "role": role, "kind": "service"})
        created = self.call("POST", f"/api/v1/users/{name}/tokens", 201, json={"label": "tests"})
        token: str = created["token"]
        return token

    @property
    def trusted_root(self) -> Path:
        return self.settings.data_dir / "tuf" / "metadata" / "1.root.json"


@contextlib.contextmanager
def running_hub(settings: HubSettings, port: int = 0) -> Iterator[HubHandle]:
    """The hub (API, ingest, controller) in a thread; `port` 0 picks a free one (agents keep the URL)."""
    server = HubServer(settings, port=port).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            form = {"username": ADMIN, "password": ADMIN_PASSWORD}
            token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            yield HubHandle(server.url, settings, server, client)
    finally:
        server.stop()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    return wait_until(predicate, timeout=timeout, interval=poll, what=what)


@dataclass
class Fleet:
    gateways: dict[str, str]
    """gateway id -> site"""
    agents: dict[str, Agent] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


@contextlib.contextmanager
def running_fleet(workdir: Path, broker: Any, pki: Any, hub: HubHandle, release_pub: Path,
                  sites: tuple[str, ...] = ("paris", "lyon", "toulouse"), per_site: int = 2) -> Iterator[Fleet]:
    """Register and start `per_site` real agents per site, fetching bundles from the hub over TUF."""
    fleet = Fleet({pki.unique_gateway_id(site): site for site in sites for _ in range(per_site)})
    for gateway, site in fleet.gateways.items():
        hub.call("POST", "/api/v1/gateways", 201, json={"id": gateway, "site": site, "cohort": "blue"})
    try:
        for seed, gateway in enumerate(sorted(fleet.gateways)):
            _start_agent(fleet, workdir / "agents" / gateway, gateway, seed, broker, pki, hub, release_pub)
        yield fleet
    finally:
        for agent in fleet.agents.values():
            agent.stop()
        for thread in fleet.threads:
            thread.join(20)
    assert not fleet.errors, fleet.errors


def _start_agent(fleet: Fleet, directory: Path, gateway: str, seed: int, broker: Any, pki: Any, hub: HubHandle,
                 release_pub: Path) -> None:
    (directory / "unused-bundles").mkdir(parents=True, exist_ok=True)
    config = agent_config(
        directory, gateway, broker, pki.issue(gateway), release_pub, directory / "unused-bundles",
        [simulated("pump-1", seed=100 + seed, period_ms=20, max_readings=None)],
    )
    fetcher = TufFetcher(TufSettings(
        metadata_url=f"{hub.url}/tuf/metadata/", targets_url=f"{hub.url}/tuf/targets/",
        trusted_root=hub.trusted_root, cache_dir=directory / "tuf-cache",
    ))
    agent = Agent(load_config(config), fetcher=fetcher)

    def run() -> None:
        try:
            agent.run()
        except BaseException as exc:  # reported by the fixture
            fleet.errors.append(exc)

    thread = threading.Thread(target=run, name=f"agent-{gateway}", daemon=True)
    thread.start()
    fleet.agents[gateway] = agent
    fleet.threads.append(thread)
