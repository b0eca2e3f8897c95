"""The hub's mutual-TLS setup of a paho client, shared by ingest, the desired-state publisher and the witness."""

from __future__ import annotations

from typing import Any

from hub._errors import BrokerError
from hub.settings import MqttSettings


def configure_tls(client: Any, settings: MqttSettings) -> None:
    """Load the CA, the hub certificate and key (when `settings.tls`); BrokerError if they cannot be read."""
    if not settings.tls:
        return
    try:
        client.tls_set(
            ca_certs=str(settings.ca_file) if settings.ca_file else None,
            certfile=str(settings.cert_file) if settings.cert_file else None,
            keyfile=str(settings.key_file) if settings.key_file else None,
        )
    except (OSError, ValueError) as exc:
        raise BrokerError(f"cannot load the hub TLS files: {exc}") from None
    client.tls_insecure_set(settings.tls_insecure)
