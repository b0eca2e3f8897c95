"""A one-shot MQTT publisher over mutual TLS (used by the demo to assign the initial model)."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vigie._errors import VigieError


def publish_retained(host: str, port: int, ca: Path, cert: Path, key: Path, messages: dict[str, bytes],
                     timeout_s: float = 20.0) -> None:
    """Publish each (topic, payload) retained at QoS 1 and wait for every PUBACK."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="",
                         protocol=mqtt.MQTTv5)
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise VigieError(f"cannot connect to the broker at {host}:{port}")
        infos = [client.publish(topic, payload, qos=1, retain=True) for topic, payload in messages.items()]
        for info in infos:
            info.wait_for_publish(timeout_s)
            if not info.is_published():
                raise VigieError("the broker did not acknowledge the desired state")
    finally:
        client.disconnect()
        client.loop_stop()
