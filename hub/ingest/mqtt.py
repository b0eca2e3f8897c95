"""The broker side of ingest: a paho 2.x MQTT v5 client with manual acknowledgement.

The session is persistent (fixed client id, clean_start False, session expiry), so messages received but
not yet acknowledged when the hub dies are redelivered to the next hub with the same client id (or, with
a shared subscription, to another member of the group). The paho callback only queues the message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from contracts import topics
from hub._errors import BrokerError
from hub.ingest.pipeline import Inbound
from hub.metrics import HubMetrics
from hub.mqtt_tls import configure_tls
from hub.settings import MqttSettings

log = logging.getLogger(__name__)


class MqttSource:
    """Feeds `inbox` with `Inbound` messages; `ack` acknowledges one (if its connection is still the current)."""

    def __init__(self, settings: MqttSettings, inbox: queue.Queue[Inbound], metrics: HubMetrics) -> None:
        self.settings = settings
        self.inbox = inbox
        self.metrics = metrics
        self.filter = topics.hub_up_filter(settings.shared_group)
        self._generation = 0
        self._connected = threading.Event()
        self._link = threading.Event()
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        """Connected and subscribed (SUBACK received)."""
        return self._connected.is_set()

    def start(self) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        try:
            self._client.connect_async(
                self.settings.host, self.settings.port, self.settings.keepalive_s, clean_start=False, properties=props
            )
        except (OSError, ValueError) as exc:
            raise BrokerError(f"cannot connect to {self.settings.host}:{self.settings.port}: {exc}") from None
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._link.clear()
        self._connected.clear()
        self.metrics.broker_connected.set(0)

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def ack(self, message: Inbound) -> bool:
        """Acknowledge; False (and no ack) if the message came on an earlier connection: it will be redelivered."""
        if message.qos == 0:
            return True
        if message.generation != self._generation or not self._link.is_set():
            return False
        self._client.ack(message.mid, message.qos)
        return True

    # -- paho ------------------------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5, manual_ack=True
        )
        configure_tls(client, s)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_connect(self, client: Any, _userdata: Any, flags: Any, reason_code: Any, _props: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection", extra={"reason": str(reason_code)})
            return
        from paho.mqtt.subscribeoptions import SubscribeOptions

        self._generation += 1
        self._link.set()
        client.subscribe(self.filter, options=SubscribeOptions(qos=1))
        log.info(
            "connected to broker",
            extra={"session_present": bool(flags.session_present), "filter": self.filter, "gen": self._generation},
        )

    def _on_subscribe(self, _client: Any, _userdata: Any, _mid: int, reason_codes: Any, _props: Any) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("broker refused the subscription", extra={"filter": self.filter, "reason": failed})
            return
        self._connected.set()
        self.metrics.broker_connected.set(1)

    def _on_disconnect(self, _client: Any, _userdata: Any, _flags: Any, reason_code: Any, _props: Any) -> None:
        self._link.clear()
        self._connected.clear()
        self.metrics.broker_connected.set(0)
        log.warning("disconnected from broker", extra={"reason": str(reason_code)})

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        self.metrics.unacked.inc()
        try:
            topic: str = msg.topic
        except UnicodeDecodeError:  # brokers check UTF-8, but never let a callback raise
            topic = "<invalid utf-8 topic>"
        self.inbox.put(Inbound(topic, msg.payload, msg.mid, msg.qos, self._generation, int(time.time() * 1000)))
