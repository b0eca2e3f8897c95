"""Hub settings: defaults < TOML file (`--config`) < environment (`VIGIE_HUB_...`) < explicit arguments.

Nested sections use `__` in environment variables: `VIGIE_HUB_SERIES__BACKEND=influxdb1`,
`VIGIE_HUB_MQTT__HOST=broker.example`. The TOML file has the same sections:

    mode = "production"
    database_url = "postgresql+psycopg://vigie:...@db/vigie"
    [series]
    backend = "influxdb1"
    url = "http://influxdb:8086"
    [mqtt]
    host = "broker"
    ca_file = "/etc/vigie/pki/ca.pem"

In `production` mode `check_production` refuses development secrets and insecure switches, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from hub._errors import ConfigError
from hub.distribution.settings import DistributionSettings  # model lifecycle (hub/distribution)
from hub.drift.settings import DriftSettings  # drift monitor (hub/drift)
from hub.registry.settings import RegistrySettings  # model lifecycle (hub/registry)
from hub.rollout.settings import RolloutSettings  # model lifecycle (hub/rollout)
from hub.security.settings import SecuritySettings, security_problems  # security layer (hub/security)

DEV_SECRETS = frozenset(
    {"", "vigie", "vigie-dev", "dev", "changeme", "change-me", "password", "admin", "root", "secret", "postgres"}
)
"""Values accepted as secrets only in dev mode."""

Mode = Literal["dev", "production"]
SeriesBackend = Literal["sqlite", "influxdb1", "influxdb2"]


class SeriesSettings(BaseModel):
    """Time-series store. `sqlite` needs no setup; `influxdb1` uses /write and /query; `influxdb2` the client."""

    backend: SeriesBackend = "sqlite"
    sqlite_path: Path | None = None
    """Default: `<data_dir>/series.db`."""
    url: str = "http://127.0.0.1:8086"
    database: str = "vigie"
    """InfluxDB 1.x database (created at start when `create_database`)."""
    create_database: bool = True
    username: str = ""
    password: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    """InfluxDB 2.x API token."""
    org: str = "vigie"
    bucket: str = "vigie"
    timeout_s: float = Field(10.0, gt=0)


class MqttSettings(BaseModel):
    """Broker connection of the ingest workers (mTLS with the hub client certificate)."""

    host: str = "127.0.0.1"
    port: int = Field(8883, ge=1, le=65535)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls: bool = True
    tls_insecure: bool = False
    """Skip the broker host name check. Development only."""
    client_id: str = Field("vigie-hub-1", min_length=1, max_length=64)
    """Fixed so that the broker keeps the session (and redelivers unacknowledged messages) across restarts."""
    shared_group: str | None = None
    """When set, subscribe as `$share/<group>/vigie/v1/+/up/#` so that N hubs split the stream."""
    session_expiry_s: int = Field(7 * 24 * 3600, ge=1)
    receive_maximum: int = Field(2000, ge=1, le=65535)
    """How many unacknowledged messages the broker may have in flight to this hub."""
    keepalive_s: int = Field(30, ge=5)


class IngestSettings(BaseModel):
    enabled: bool = True
    """False for API-only replicas."""
    batch_max_messages: int = Field(500, ge=1)
    batch_max_ms: int = Field(10, ge=0)
    """How long to wait for more messages once one arrived (a longer wait batches more under light load)."""
    backoff_initial_ms: int = Field(200, ge=1)
    backoff_max_ms: int = Field(5000, ge=1)
    excerpt_bytes: int = Field(512, ge=16, le=65536)
    """Bytes of a quarantined payload kept for diagnosis."""
    registry_refresh_s: float = Field(1.0, gt=0)
    """How often the set of registered gateways is reloaded when an unknown gateway shows up."""
    test_only_write_delay_ms: int = Field(0, ge=0)
    """TESTS ONLY: sleep this long between receiving a batch and writing it (makes crash tests deterministic)."""


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    default_max_points: int = Field(1000, ge=2, le=100_000)
    docs: bool = True
    """Serve /docs and /openapi.json."""


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIGIE_HUB_", env_nested_delimiter="__", extra="forbid")

    mode: Mode = "dev"
    data_dir: Path = Path(".vigie/hub")
    database_url: str = ""
    """SQLAlchemy URL; default `sqlite:///<data_dir>/hub.db`. PostgreSQL: `postgresql+psycopg://user:pw@host/db`."""
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    migrate_on_start: bool = True
    series: SeriesSettings = SeriesSettings()
    mqtt: MqttSettings = MqttSettings()
    ingest: IngestSettings = IngestSettings()
    api: ApiSettings = ApiSettings()
    security: SecuritySettings = SecuritySettings()
    """Keys, token lifetimes, audit checkpoints and witnesses, HTTPS (hub/security/settings.py)."""
    # model lifecycle: TUF distribution, registry, rollout controller (hub/distribution, hub/registry, hub/rollout)
    distribution: DistributionSettings = DistributionSettings()
    registry: RegistrySettings = RegistrySettings()
    rollout: RolloutSettings = RolloutSettings()
    drift: DriftSettings = DriftSettings()
    """Drift monitor thresholds, hysteresis, pooling and extra manifests (hub/drift/settings.py)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        if toml_file is None:
            return init_settings, env_settings
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hub.db'}"

    def resolved_sqlite_series_path(self) -> Path:
        return self.series.sqlite_path or self.data_dir / "series.db"


def load_settings(config_file: Path | None = None, **overrides: Any) -> HubSettings:
    """Build settings from an optional TOML file, the environment and `overrides`; raise ConfigError."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError("--config", f"no such file: {config_file}")
    cls = HubSettings
    if config_file is not None:

        class _FromFile(HubSettings):
            model_config = SettingsConfigDict(toml_file=config_file)

        cls = _FromFile
    try:
        return cls(**overrides)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ConfigError(".".join(str(p) for p in first["loc"]), str(first["msg"])) from None
    except (OSError, ValueError) as exc:  # unreadable or invalid TOML
        raise ConfigError("--config", str(exc)) from None


def production_problems(settings: HubSettings) -> list[ConfigError]:
    """Every development secret or insecure setting, each naming its field. Empty in dev mode."""
    if settings.mode != "production":
        return []
    problems: list[ConfigError] = []
    problems += _mqtt_problems(settings.mqtt, settings.ingest.enabled)
    problems += _series_problems(settings.series)
    problems += _database_problems(settings.resolved_database_url())
    if settings.ingest.test_only_write_delay_ms:
        problems.append(ConfigError("ingest.test_only_write_delay_ms", "test-only setting must be 0 in production"))
    problems += security_problems(settings.security, production=True)
    return problems


def check_production(settings: HubSettings) -> None:
    """Raise the first production problem (see `production_problems`)."""
    problems = production_problems(settings)
    if problems:
        raise problems[0]


def _mqtt_problems(mqtt: MqttSettings, ingest_enabled: bool) -> list[ConfigError]:
    if not ingest_enabled:
        return []
    problems: list[ConfigError] = []
    if not mqtt.tls:
        problems.append(ConfigError("mqtt.tls", "plain-text MQTT is not allowed in production"))
    if mqtt.tls_insecure:
        problems.append(ConfigError("mqtt.tls_insecure", "broker host name check must be on in production"))
    for name in ("ca_file", "cert_file", "key_file"):
        if getattr(mqtt, name) is None:
            problems.append(ConfigError(f"mqtt.{name}", "mutual TLS needs the CA, the hub certificate and key"))
    return problems


def _series_problems(series: SeriesSettings) -> list[ConfigError]:
    if series.backend == "influxdb1" and series.username and series.password.get_secret_value() in DEV_SECRETS:
        return [ConfigError("series.password", "development password not allowed in production")]
    if series.backend == "influxdb2" and series.token.get_secret_value() in DEV_SECRETS:
        return [ConfigError("series.token", "development token not allowed in production")]
    return []


def _database_problems(url: str) -> list[ConfigError]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        return [ConfigError("database_url", f"not a database URL: {exc}")]
    if parsed.get_backend_name() != "sqlite" and (parsed.password or "") in DEV_SECRETS:
        return [ConfigError("database_url", "development database password not allowed in production")]
    return []
