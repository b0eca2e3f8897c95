"""Writing desired states: retained, QoS 1 messages on `vigie/v1/<gateway>/down/desired`.

A separate paho client (its own client id, clean session) next to ingest's: publishing never waits behind
ingest's flow control. `publish` sends a whole wave at once (paho keeps its in-flight window full) and returns
the states the broker acknowledged (PUBACK); the controller keeps the others in SQL and retries them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from contracts import topics
from contracts.messages import DesiredState
from hub._errors import BrokerError
from hub.mqtt_tls import configure_tls
from hub.settings import MqttSettings

log = logging.getLogger("hub.rollout")


class DesiredSink(Protocol):
    def publish(self, states: Sequence[DesiredState]) -> list[DesiredState]:
        """Write each state as the retained desired state of its gateway; those the broker acknowledged."""
        ...


class MqttDesiredPublisher:
    def __init__(self, settings: MqttSettings, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._connected = threading.Event()
        self._client = self._make_client()

    def start(self) -> None:
        try:
            self._client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}") from None
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, states: Sequence[DesiredState]) -> list[DesiredState]:
        """Queue every state, then wait for the PUBACKs under one deadline: a wave of 100 gateways costs about
        one round trip per in-flight window, not one per gateway."""
        if not self._connected.is_set():
            return []
        sent = [(state, self._client.publish(topics.down(state.gateway), state.to_bytes(), qos=1, retain=True))
                for state in states]
        deadline = time.monotonic() + self.timeout_s
        return [state for state, info in sent if self._acknowledged(state, info, deadline)]

    def _acknowledged(self, state: DesiredState, info: Any, deadline: float) -> bool:
        try:
            info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as exc:  # not queued: the connection just went away
            log.warning("desired state not published", extra={"gateway": state.gateway, "error": str(exc)})
            return False
        published: bool = info.is_published()
        return published

    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{s.client_id}-desired"[:64], protocol=mqtt.MQTTv5)
        configure_tls(client, s)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the desired-state publisher", extra={"reason": str(reason_code)})
            return
        self._connected.set()

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        self._connected.clear()
        log.warning("desired-state publisher disconnected", extra={"reason": str(reason_code)})
