"""The one error tree of the hub. Foreign errors (httpx, SQLAlchemy, paho, pydantic) are translated here.

    HubError
    ├── ConfigError            settings that cannot work (bad value, insecure in production)
    ├── StoreError             a time-series store failed
    │   ├── StoreUnavailable   transient: not reachable, timed out, 5xx -> retry with back-off
    │   └── StoreRejected      permanent for this data: 4xx (type conflict, limits) -> quarantine
    ├── DatabaseError          the SQL database failed (transient: retried by ingest)
    ├── BrokerError            the MQTT connection could not be set up
    ├── NotFound               an API resource that does not exist
    └── Conflict               an API resource that already exists
"""

from __future__ import annotations


class HubError(Exception):
    """Base class of every error raised by `hub`."""


class ConfigError(HubError):
    """Settings that cannot work. `field` names the offending setting (dotted, as in the TOML file)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class StoreError(HubError):
    """A time-series store failed."""


class StoreUnavailable(StoreError):
    """Transient: the store is down, slow or overloaded. Ingest backs off and keeps messages unacknowledged."""


class StoreRejected(StoreError):
    """The store refused the data itself (e.g. a field type conflict); retrying the same data cannot help."""


class DatabaseError(HubError):
    """The SQL database failed (connection lost, locked); treated as transient by ingest."""


class BrokerError(HubError):
    """The MQTT client could not be configured or connected."""


class NotFound(HubError):
    """A resource (gateway, equipment) that does not exist."""


class Conflict(HubError):
    """A resource that already exists, or a change that contradicts the current state."""
