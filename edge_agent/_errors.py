"""The one error tree of the edge agent; foreign errors are translated into it at the adapters.

    AgentError
    ├── ConfigError          a config file that cannot be used (names the file, the field and the reason)
    ├── SourceError          a sensor source that cannot deliver (the equipment becomes unavailable)
    ├── ScoringError         onnxruntime failed on a batch (counted as score_errors)
    ├── OutboxError          the SQLite outbox cannot be opened or written
    │   └── OutboxFull       strategy reject_new refused an entry (counted, reported)
    ├── TransportError       MQTT/TLS setup failed (bad URL, unreadable certificate)
    └── BundleRejected       a model bundle failed verification or the version policy (names the reason)
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every error raised by `edge_agent`."""


class ConfigError(AgentError):
    """A configuration error: `file`, dotted `field` and a human `reason`."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.field = field
        self.reason = reason


class SourceError(AgentError):
    """A sensor source failed; the equipment is marked unavailable until it recovers."""


class ScoringError(AgentError):
    """The inference session failed on a batch."""


class OutboxError(AgentError):
    """The durable outbox cannot be opened or written."""


class OutboxFull(OutboxError):
    """The outbox is full and its strategy is reject_new."""


class TransportError(AgentError):
    """The MQTT transport cannot be set up."""


class BundleRejected(AgentError):
    """A model bundle was refused; `reason` is short and machine-friendly, `detail` is human text."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
