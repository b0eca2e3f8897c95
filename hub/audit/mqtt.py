"""A paho-mqtt connection for the MQTT witness: the hub's mTLS identity, its own client id.

The default topic `vigie/v1/_audit/down/checkpoint` lies inside what the broker ACL already lets the hub
write (`vigie/v1/+/down/#`) and no gateway can read (`_` is not allowed in gateway ids). Give auditors
`topic read vigie/v1/_audit/down/#` to read the retained checkpoint.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from hub._errors import BrokerError
from hub.audit._errors import WitnessError
from hub.audit.witness import MqttWitness
from hub.mqtt_tls import configure_tls

log = logging.getLogger("hub.audit")


class PahoWitnessConnection:
    """Connects in the background (paho reconnects by itself); `witness()` publishes through it."""

    def __init__(self, mqtt_settings: Any, topic: str, timeout_s: float = 10.0) -> None:
        self.settings = mqtt_settings
        self.topic = topic
        self.timeout_s = timeout_s
        self._connected = threading.Event()
        self._acks: dict[int, Any] = {}  # mid -> PUBACK reason code (set before the message counts as published)
        self._client = self._make_client()

    def start(self) -> None:
        try:
            self._client.connect_async(self.settings.host, self.settings.port, self.settings.keepalive_s)
        except (OSError, ValueError) as exc:
            raise WitnessError(f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}") from None
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def publish(self, topic: str, payload: bytes) -> None:
        if not self._connected.wait(self.timeout_s):
            raise WitnessError("not connected to the broker")
        info = self._client.publish(topic, payload, qos=1, retain=True)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise WitnessError(f"checkpoint not published: {exc}") from None
        if not info.is_published():
            raise WitnessError(f"broker did not acknowledge the checkpoint within {self.timeout_s} s")
        reason = self._acks.pop(info.mid, None)
        if reason is not None and reason.is_failure:  # e.g. 0x87 not authorised by the broker ACL
            raise WitnessError(f"broker refused the checkpoint on {topic}: {reason}")

    def witness(self) -> MqttWitness:
        return MqttWitness(self.publish, self.topic)

    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{s.client_id}-audit"[:64],
                             protocol=mqtt.MQTTv5)
        try:
            configure_tls(client, s)
        except BrokerError as exc:
            raise WitnessError(str(exc)) from None
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _on_publish(self, _client: Any, _userdata: Any, mid: int, reason_code: Any, _props: Any) -> None:
        self._acks[mid] = reason_code

    def _on_connect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the audit witness connection", extra={"reason": str(reason_code)})
            return
        self._connected.set()

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        self._connected.clear()
