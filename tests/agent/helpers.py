"""Helpers for the agent tests: signed bundles, config files, an in-process agent, received readings."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts import codec
from contracts.manifest import Manifest
from contracts.messages import DesiredState, ModelRef, ReportedState, ScoresBatch
from contracts.signing import sign_bytes
from edge_agent.agent import Agent
from edge_agent.config import load_config
from model_export.bundle import write_bundle
from tests.harness import wait_until

MODEL = "pump"


@dataclass(frozen=True)
class Trained:
    manifest: Manifest
    model_bytes: bytes


def write_signed_bundle(root: Path, trained: Trained, version: str, key: Ed25519PrivateKey) -> Path:
    """`<root>/<name>/<version>/` holding the trained model re-versioned and signed by `key`."""
    manifest = trained.manifest.model_copy(update={"version": version})
    directory = root / manifest.name / version
    directory.mkdir(parents=True, exist_ok=True)
    return write_bundle(directory, trained.model_bytes, manifest, sign_bytes(key, manifest.canonical_bytes()))


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        return json.dumps(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def render_toml(document: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, body in document.items():
        if section == "equipment":
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items()]
        lines.append("")
    for equipment in document.get("equipment", []):
        lines.append("[[equipment]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in equipment.items() if k != "source"]
        lines.append("[equipment.source]")
        lines += [f"{k} = {toml_value(v)}" for k, v in equipment["source"].items()]
        lines.append("")
    return "\n".join(lines)


def simulated(equipment: str, seed: int, period_ms: int = 2, max_readings: int | None = 200) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": equipment, "sample_period_ms": period_ms,
                            "source": {"type": "simulator", "seed": seed}}
    if max_readings is not None:
        spec["max_readings"] = max_readings
    return spec


def agent_config(
    directory: Path,
    gateway: str,
    mqtt_broker: Any,
    cert: Any,
    release_key: Path,
    bundles: Path,
    equipment: list[dict[str, Any]],
    **sections: dict[str, Any],
) -> Path:
    """Write a config for `gateway` against `mqtt_broker` (host/port/ca) with its ClientCert; return its path.

    `sections` are merged into the document's sections, e.g. `broker={"inflight": 2}`."""
    document: dict[str, Any] = {
        "gateway": {"id": gateway, "site": "testsite"},
        "broker": {"url": f"mqtts://{mqtt_broker.host}:{mqtt_broker.port}", "ca": mqtt_broker.ca, "cert": cert.cert,
                   "key": cert.key, "backoff_min_ms": 50, "backoff_max_ms": 500},
        "outbox": {"path": "outbox.sqlite", "synchronous": "normal"},
        "models": {"release_keys": [release_key], "bundles_dir": bundles},
        "batching": {"max_readings": 50, "max_delay_ms": 50},
        "scoring": {"sketch_window_ms": 3_600_000},
        "health": {"port": 0, "state_interval_ms": 200},
        "equipment": equipment,
    }
    for name, values in sections.items():
        document.setdefault(name, {}).update(values)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{gateway}.toml"
    path.write_text(render_toml(document))
    return path


@contextlib.contextmanager
def running_agent(config: Path) -> Iterator[Agent]:
    """Run an Agent in a thread; stop it (clean shutdown) at the end."""
    agent = Agent(load_config(config))
    errors: list[BaseException] = []

    def target() -> None:
        try:
            agent.run()
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)

    thread = threading.Thread(target=target, name="agent-under-test", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(15)
        assert not thread.is_alive(), "agent did not stop"
    if errors:
        raise errors[0]


def desired(gateway: str, seq: int, version: str | None, shadow: str | None = None,
            allow_downgrade: bool = False) -> bytes:
    message = DesiredState(
        gateway=gateway, seq=seq, issued_at=int(time.time() * 1000),
        active=ModelRef(name=MODEL, version=version) if version else None,
        shadow=ModelRef(name=MODEL, version=shadow) if shadow else None,
        allow_downgrade=allow_downgrade,
    )
    return message.to_bytes()


def desired_topic(gateway: str) -> str:
    return f"vigie/v1/{gateway}/down/desired"


def up_filter(gateway: str) -> str:
    return f"vigie/v1/{gateway}/up/#"


def decoded(messages: list[Any], kind: str) -> list[Any]:
    """Decode (and so validate) every received message of `kind`."""
    out = []
    for m in messages:
        if m.topic.endswith(f"/up/{kind}") and m.payload:
            out.append(codec.decode_up(m.topic, m.payload)[1])
    return out


def score_batches(messages: list[Any]) -> list[ScoresBatch]:
    return [b for b in decoded(messages, "scores") if isinstance(b, ScoresBatch)]


def states(messages: list[Any]) -> list[ReportedState]:
    return [s for s in decoded(messages, "state") if isinstance(s, ReportedState)]


def readings(messages: list[Any], slot: str = "active") -> list[tuple[str, int, str]]:
    """(equipment, ts, model_version) of every received reading of `slot`, in arrival order."""
    return [(r.equipment, r.ts, r.model_version) for b in score_batches(messages) for r in b.readings
            if r.slot == slot]


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    return wait_until(predicate, timeout=timeout, what=what)


def recording_wait(waits: list[float]) -> Callable[[float], bool]:
    """A RetryingFetcher back-off wait that only records its delay (and never says the agent is stopping)."""

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    return wait
