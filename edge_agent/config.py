"""Agent configuration: one TOML file per gateway, validated with pydantic before anything starts.

Path resolution (documented in firmware_configs/README.md):
- files the operator provisions (TLS CA/cert/key, release keys, CSV files, the local bundle directory)
  resolve against the directory of the config file when relative;
- files the agent writes (outbox, model store) resolve against the *state directory*: `--state-dir`
  on the command line, else `gateway.state_dir` (itself relative to the config file), else
  `<config dir>/state/<gateway id>`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts._base import GatewayId, Identifier
from contracts.limits import MAX_BATCH_READINGS, MAX_EQUIPMENT_PER_GATEWAY
from edge_agent._errors import ConfigError

PositiveMs = Annotated[int, Field(ge=1, le=86_400_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GatewaySection(_Strict):
    id: GatewayId
    site: Identifier
    state_dir: Path | None = None


class BrokerSection(_Strict):
    url: str
    ca: Path
    cert: Path
    key: Path
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    backoff_min_ms: PositiveMs = 250
    backoff_max_ms: PositiveMs = 30_000
    inflight: Annotated[int, Field(ge=1, le=1000)] = 32
    tcp_nodelay: bool = True

    @field_validator("url")
    @classmethod
    def _mqtts(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "mqtts":
            raise ValueError("must be mqtts://host:port (TLS is mandatory)")
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("has an invalid port") from None
        if port is None:
            raise ValueError("must give the port explicitly (mqtts://host:8883)")
        if parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError("must be exactly mqtts://host:port")
        return value

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 8883


class OutboxSection(_Strict):
    path: Path = Path("outbox.sqlite")
    max_entries: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    max_bytes: Annotated[int, Field(ge=4096, le=64 * 2**30)] = 512 * 2**20
    strategy: Literal["reject_new", "drop_oldest"] = "drop_oldest"
    synchronous: Literal["full", "normal"] = "full"


class TufSection(_Strict):
    """`[models.tuf]` of an agent config: where the hub serves its TUF repository and the pinned root.

        [models.tuf]
        url = "https://hub.example:8443/tuf"   # the hub's /tuf mount
        trusted_root = "pki/root.json"          # provisioned with the gateway (any root version of the hub)
        ca = "pki/ca.pem"                       # for a hub with a private CA
    """

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2048)]
    trusted_root: Path
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    max_download_s: Annotated[float, Field(gt=0, le=86_400)] = 600.0

    def resolved(self, base: Path) -> TufSection:
        """Relative paths taken from the config file's directory `base`."""
        files = {name: base / value for name in ("trusted_root", "ca", "cert", "key")
                 if (value := getattr(self, name)) is not None}
        return self.model_copy(update=files)


class ModelsSection(_Strict):
    store: Path = Path("models")
    release_keys: Annotated[list[Path], Field(min_length=1, max_length=16)]
    bundles_dir: Path | None = None
    """LocalDirFetcher root: `<dir>/<name>/<version>/` or `<dir>/<name>/<version>.tar`."""
    tuf: TufSection | None = None
    """Fetch bundles from the hub's TUF repository (takes precedence over `bundles_dir`)."""
    fetch_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    """Tries of a download that fails for a transient reason (network, HTTP, I/O) before the update is
    reported failed; trust failures are never retried."""
    fetch_retry_ms: PositiveMs = 1000
    """Wait before the second try; doubled after each failure (at most 30 s)."""


class BatchingSection(_Strict):
    max_readings: Annotated[int, Field(ge=1, le=MAX_BATCH_READINGS)] = 200
    max_delay_ms: PositiveMs = 500


class ScoringSection(_Strict):
    anomaly_on: Annotated[int, Field(ge=1, le=10_000)] = 3
    """Consecutive anomalous readings that open an anomaly event."""
    anomaly_off: Annotated[int, Field(ge=1, le=10_000)] = 5
    """Consecutive normal readings that close it."""
    sketch_window_ms: PositiveMs = 60_000
    max_batch: Annotated[int, Field(ge=1, le=100_000)] = 4096
    """Most readings scored in one session.run call."""
    range_margin: Annotated[float, Field(ge=0, le=1000)] = 3.0
    """A channel value is scoreable within [min - m*span, max + m*span] of the manifest's expected range
    (span = max - min): manifests record the training range, and faults legitimately leave it a little."""
    wait_for_model: bool = True
    """Start reading sensors only once a model is active (else readings are counted unscoreable/no_model)."""


class HealthSection(_Strict):
    bind: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 9108
    state_interval_ms: PositiveMs = 10_000

    @field_validator("bind")
    @classmethod
    def _loopback(cls, value: str) -> str:
        if value not in {"127.0.0.1", "::1", "localhost"}:
            raise ValueError("health/metrics must bind to localhost (127.0.0.1, ::1 or localhost)")
        return value


FaultKind = Literal["valve_closure", "cavitation", "rotor_imbalance", "leak", "stuck_sensor", "drifting_sensor"]


class FaultSpec(_Strict):
    """A scheduled fault, in readings since the source started (`start`, `duration`)."""

    kind: FaultKind
    start: Annotated[int, Field(ge=0)]
    duration: Annotated[int, Field(ge=1)]
    severity: Annotated[float, Field(gt=0, le=10)] = 1.0
    channel: Identifier = "flow_rate_rms"
    """Sensor of a stuck_sensor / drifting_sensor fault."""


class SimulatorSource(_Strict):
    type: Literal["simulator"]
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    faults: Annotated[list[FaultSpec], Field(max_length=100)] = []
    fault_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    """Probability per reading that a random fault starts (when none is active)."""


class CsvSource(_Strict):
    type: Literal["csv"]
    path: Path
    speed: Annotated[float, Field(gt=0, le=1e6)] = 1.0
    columns: dict[str, Identifier] | None = None
    """CSV column -> channel name; default: every numeric column but `anomaly`/`changepoint`."""
    loop: bool = False


class RegisterSpec(_Strict):
    channel: Identifier
    address: Annotated[int, Field(ge=0, le=65535)]
    table: Literal["holding", "input"] = "holding"
    type: Literal["int16", "uint16", "int32", "uint32", "float32"] = "uint16"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0


class ModbusSource(_Strict):
    type: Literal["modbus"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    device_id: Annotated[int, Field(ge=0, le=247)] = 1
    timeout_ms: PositiveMs = 1000
    registers: Annotated[list[RegisterSpec], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _unique_channels(self) -> ModbusSource:
        names = [r.channel for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError("register map names a channel twice")
        return self


SourceSpec = Annotated[SimulatorSource | CsvSource | ModbusSource, Field(discriminator="type")]


class EquipmentSpec(_Strict):
    id: Identifier
    sample_period_ms: PositiveMs = 1000
    source: SourceSpec
    max_readings: Annotated[int, Field(ge=1)] | None = None
    """Stop this source after so many readings (replays and tests); unset = run forever."""


class AgentConfig(_Strict):
    gateway: GatewaySection
    broker: BrokerSection
    outbox: OutboxSection = OutboxSection()
    models: ModelsSection
    batching: BatchingSection = BatchingSection()
    scoring: ScoringSection = ScoringSection()
    health: HealthSection = HealthSection()
    equipment: Annotated[list[EquipmentSpec], Field(min_length=1, max_length=MAX_EQUIPMENT_PER_GATEWAY)]

    @model_validator(mode="after")
    def _unique_equipment(self) -> AgentConfig:
        ids = [e.id for e in self.equipment]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"equipment ids must be unique, repeated: {dupes}")
        if self.broker.backoff_max_ms < self.broker.backoff_min_ms:
            raise ValueError("broker.backoff_max_ms is below broker.backoff_min_ms")
        return self


class LoadedConfig(BaseModel):
    """A validated config with every path made absolute."""

    model_config = ConfigDict(frozen=True)

    file: Path
    state_dir: Path
    agent: AgentConfig


def load_config(path: Path, state_dir: Path | None = None, check_files: bool = True) -> LoadedConfig:
    """Read, validate and resolve a config file; every problem becomes a ConfigError."""
    document = _read_toml(path)
    agent = _validate(path, document)
    base = path.resolve().parent
    state = _state_dir(base, agent, state_dir)
    agent = _resolve_paths(agent, base, state)
    if check_files:
        _check_files(path, agent)
    return LoadedConfig(file=path, state_dir=state, agent=agent)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"not valid TOML: {exc}") from None


def _validate(path: Path, document: dict[str, Any]) -> AgentConfig:
    try:
        return AgentConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _field_path(document, first["loc"])
        raise ConfigError(str(path), field, str(first["msg"])) from None


def _field_path(document: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """A dotted path where list indexes of [[equipment]] are replaced by the equipment id when known."""
    parts: list[str] = []
    node: Any = document
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{ident}]" if isinstance(ident, str) else f"[{part}]")
            continue
        if part in {"simulator", "csv", "modbus"} and parts and parts[-1] == "source":
            continue  # pydantic's discriminator tag, not a field the user wrote
        node = node.get(part) if isinstance(node, dict) else None
        parts.append(str(part))
    return ".".join(parts).replace(".[", "[")


def _state_dir(base: Path, agent: AgentConfig, override: Path | None) -> Path:
    if override is not None:
        return override.resolve()
    if agent.gateway.state_dir is not None:
        return (base / agent.gateway.state_dir).resolve()
    return base / "state" / agent.gateway.id


def _resolve_paths(agent: AgentConfig, base: Path, state: Path) -> AgentConfig:
    broker = agent.broker.model_copy(
        update={"ca": base / agent.broker.ca, "cert": base / agent.broker.cert, "key": base / agent.broker.key}
    )
    bundles = agent.models.bundles_dir
    models = agent.models.model_copy(
        update={
            "store": state / agent.models.store,
            "release_keys": [base / k for k in agent.models.release_keys],
            "bundles_dir": None if bundles is None else base / bundles,
            "tuf": None if agent.models.tuf is None else agent.models.tuf.resolved(base),
        }
    )
    outbox = agent.outbox.model_copy(update={"path": state / agent.outbox.path})
    equipment = [_resolve_equipment(e, base) for e in agent.equipment]
    return agent.model_copy(update={"broker": broker, "models": models, "outbox": outbox, "equipment": equipment})


def _resolve_equipment(spec: EquipmentSpec, base: Path) -> EquipmentSpec:
    if isinstance(spec.source, CsvSource):
        source = spec.source.model_copy(update={"path": base / spec.source.path})
        return spec.model_copy(update={"source": source})
    return spec


def _check_files(path: Path, agent: AgentConfig) -> None:
    files: list[tuple[str, Path]] = [
        ("broker.ca", agent.broker.ca),
        ("broker.cert", agent.broker.cert),
        ("broker.key", agent.broker.key),
    ]
    files += [(f"models.release_keys[{i}]", k) for i, k in enumerate(agent.models.release_keys)]
    files += [
        (f"equipment[{e.id}].source.path", e.source.path) for e in agent.equipment if isinstance(e.source, CsvSource)
    ]
    for field, file in files:
        if not file.is_file():
            raise ConfigError(str(path), field, f"file not found: {file}")
    tuf = agent.models.tuf
    if tuf is not None and not tuf.trusted_root.is_file():
        raise ConfigError(str(path), "models.tuf.trusted_root", f"file not found: {tuf.trusted_root}")
    bundles = agent.models.bundles_dir
    if bundles is not None and not bundles.is_dir():
        raise ConfigError(str(path), "models.bundles_dir", f"directory not found: {bundles}")
