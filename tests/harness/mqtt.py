"""paho-mqtt 2.x test clients over mutual TLS, with helpers that wait on conditions with a deadline.

    with mqtt_client(broker, pki.issue("paris-gw1")) as gw, mqtt_client(broker, pki.hub) as hub:
        hub.subscribe("vigie/v1/paris-gw1/up/#")
        gw.publish("vigie/v1/paris-gw1/up/scores", b"{}")      # waits for the PUBACK
        [msg] = hub.collect("vigie/v1/paris-gw1/up/#", count=1)

`broker` is anything with `host`, `port` and `ca` (the `mosquitto` fixtures are). Connection failures
raise `MqttConnectError`; `try_connect` returns the outcome instead, for "must be refused" tests.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.harness._util import DEFAULT_TIMEOUT, unique_id, wait_until
from tests.harness.pki import ClientCert

MQTTv5 = MQTTProtocolVersion.MQTTv5
MQTTv311 = MQTTProtocolVersion.MQTTv311
RECONNECT_DELAY = 0.1  # seconds between reconnection attempts after the broker dropped a test client


class BrokerAddress(Protocol):
    host: str
    port: int
    ca: Path


class MqttConnectError(RuntimeError):
    """The client did not get a successful CONNACK (TLS refused, CONNACK failure or timeout)."""


@dataclass(frozen=True, slots=True)
class Received:
    """One message delivered to a test client."""

    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True, slots=True)
class ConnectOutcome:
    """Result of `try_connect`: `ok` is True only after a successful CONNACK; `reason` says why not."""

    ok: bool
    reason: str


class MqttTestClient:
    """A connected paho client running its network loop in a thread; thread-safe message buffer.

    Attributes: `client` (the paho Client, for anything not wrapped), `client_id`, `messages` (list of
    Received, in arrival order; read it through `received()`), `disconnects` (reason strings).
    """

    def __init__(self, client: paho.Client, client_id: str) -> None:
        self.client = client
        self.client_id = client_id
        self.messages: list[Received] = []
        self.disconnects: list[str] = []
        self._cond = threading.Condition()
        self._connack: str | None = None
        self._connected = False
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._pubacks: dict[int, ReasonCode] = {}
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_publish = self._on_publish

    # -- callbacks (paho network thread) --------------------------------------------------------------
    def _on_connect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Properties | None) -> None:
        with self._cond:
            self._connack = str(rc)
            self._connected = not rc.is_failure
            self._cond.notify_all()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Properties | None) -> None:
        with self._cond:
            self._connected = False
            self.disconnects.append(str(rc))
            self._cond.notify_all()

    def _on_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))
            self._cond.notify_all()

    def _on_subscribe(self, _c: paho.Client, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any) -> None:
        with self._cond:
            self._subacks[mid] = rcs
            self._cond.notify_all()

    def _on_publish(self, _c: paho.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._cond:
            self._pubacks[mid] = rc
            self._cond.notify_all()

    # -- waiting -------------------------------------------------------------------------------------
    def _wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.client_id}: timed out after {timeout:g}s waiting for {what}")
                self._cond.wait(remaining)
            return result

    def wait_connected(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait for a successful CONNACK (also after paho reconnects following a broker restart)."""
        self._wait(lambda: self._connected, timeout, "connection")

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._connected

    # -- MQTT operations -----------------------------------------------------------------------------
    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = DEFAULT_TIMEOUT) -> list[ReasonCode]:
        """Subscribe and wait for the SUBACK; returns its reason codes (granted QoS or a failure code)."""
        rc, mid = self.client.subscribe(topic_filter, qos=qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise RuntimeError(f"{self.client_id}: subscribe({topic_filter!r}) failed: {rc}")
        codes: list[ReasonCode] = self._wait(lambda: self._subacks.get(mid), timeout, f"SUBACK of {topic_filter}")
        return codes

    def publish(self, topic: str, payload: bytes | str = b"", qos: int = 1, retain: bool = False,
                timeout: float = DEFAULT_TIMEOUT) -> ReasonCode | None:
        """Publish and wait until it is sent (QoS 0) or acknowledged (QoS 1/2).

        Returns the PUBACK reason code for QoS>0 (MQTT v5 reports e.g. "Not authorized" there; Mosquitto
        acknowledges a denied publish and drops it, so an ACL test must check what subscribers receive).
        """
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"{self.client_id}: publish({topic!r}) failed: {info.rc}")
        if qos == 0:
            info.wait_for_publish(timeout)
            return None
        rc: ReasonCode = self._wait(lambda: self._pubacks.get(info.mid), timeout, f"PUBACK of {topic}")
        return rc

    def received(self, topic_filter: str = "#") -> list[Received]:
        """Snapshot of the messages received so far whose topic matches `topic_filter`."""
        with self._cond:
            return [m for m in self.messages if paho.topic_matches_sub(topic_filter, m.topic)]

    def collect(self, topic_filter: str = "#", count: int = 1, timeout: float = DEFAULT_TIMEOUT) -> list[Received]:
        """Wait until at least `count` messages matching `topic_filter` arrived; return all that match."""
        self._wait(lambda: len(self._matching(topic_filter)) >= count, timeout,
                   f"{count} message(s) on {topic_filter}")
        return self.received(topic_filter)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = DEFAULT_TIMEOUT,
                 what: str = "messages") -> list[Received]:
        """Wait until `predicate(all messages so far)` is true; return the messages.

        The wait wakes up when *this* client receives or loses its connection: for a condition over
        several clients, poll with `tests.harness.wait_until` instead.
        """
        self._wait(lambda: predicate(list(self.messages)), timeout, what)
        with self._cond:
            return list(self.messages)

    def _matching(self, topic_filter: str) -> list[Received]:
        # Called with the condition held (from `_wait`).
        return [m for m in self.messages if paho.topic_matches_sub(topic_filter, m.topic)]

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self._cond:
            self.messages.clear()

    # -- network thread ------------------------------------------------------------------------------
    def start_loop(self) -> None:
        """Start paho's network thread (it reconnects by itself, every RECONNECT_DELAY s, if dropped).

        paho's own thread is required: paho writes from the calling thread when it has no loop thread of
        its own, which would interleave TLS records with another thread's and corrupt the stream.
        """
        self.client.reconnect_delay_set(min_delay=RECONNECT_DELAY, max_delay=RECONNECT_DELAY)  # type: ignore[arg-type]
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect cleanly (if still connected) and stop the network thread."""
        if self.connected:
            with contextlib.suppress(Exception):
                if self.client.disconnect() == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._wait(lambda: not self._connected, 2.0, "DISCONNECT to be sent")
        self.client.loop_stop()


def _tls_context(ca: Path, cert: ClientCert | Path | None, key: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    cert_path, key_path = (cert.cert, cert.key) if isinstance(cert, ClientCert) else (cert, key)
    if cert_path is not None:
        ctx.load_cert_chain(str(cert_path), str(key_path) if key_path else None)
    return ctx


def _new_client(broker: BrokerAddress, cert: ClientCert | Path | None, key: Path | None, client_id: str | None,
                protocol: MQTTProtocolVersion, clean_start: bool, ca: Path | None) -> MqttTestClient:
    cid = client_id or unique_id("test")
    # MQTT 3.1.1 takes clean_session in the constructor, MQTT 5 takes clean_start in connect().
    extra: dict[str, Any] = {} if protocol == MQTTv5 else {"clean_session": clean_start}
    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=cid, protocol=protocol, **extra)
    client.tls_set_context(_tls_context(ca or broker.ca, cert, key))
    return MqttTestClient(client, cid)


def connect(broker: BrokerAddress, cert: ClientCert | Path | None, key: Path | None = None, *,
            client_id: str | None = None, protocol: MQTTProtocolVersion = MQTTv5, clean_start: bool = True,
            session_expiry: int | None = None, ca: Path | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> MqttTestClient:
    """Connect over mTLS and wait for a successful CONNACK; the caller must `close()` the client.

    `cert` is a ClientCert, or a cert path with `key`, or None for "no client certificate".
    `session_expiry` (seconds, MQTT v5) with `clean_start=False` gives a persistent session.
    """
    wrapped = _new_client(broker, cert, key, client_id, protocol, clean_start, ca)
    properties = None
    if protocol == MQTTv5 and session_expiry is not None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = session_expiry
    kwargs: dict[str, Any] = ({"clean_start": clean_start, "properties": properties} if protocol == MQTTv5 else {})
    try:
        wrapped.client.connect(broker.host, broker.port, keepalive=30, **kwargs)
    except (OSError, ssl.SSLError) as exc:
        raise MqttConnectError(f"{wrapped.client_id}: connect to {broker.host}:{broker.port} failed: {exc}") from exc
    wrapped.start_loop()
    try:
        wrapped._wait(lambda: wrapped._connack is not None or wrapped.disconnects, timeout, "CONNACK")
    except TimeoutError as exc:
        wrapped.close()
        raise MqttConnectError(str(exc)) from exc
    if not wrapped.connected:
        reason = wrapped._connack or (wrapped.disconnects[0] if wrapped.disconnects else "unknown")
        wrapped.close()
        raise MqttConnectError(f"{wrapped.client_id}: connection refused: {reason}")
    return wrapped


@contextlib.contextmanager
def mqtt_client(broker: BrokerAddress, cert: ClientCert | Path | None, key: Path | None = None,
                **kwargs: Any) -> Iterator[MqttTestClient]:
    """Context manager around `connect` (same arguments) that closes the client at the end."""
    client = connect(broker, cert, key, **kwargs)
    try:
        yield client
    finally:
        client.close()


def try_connect(broker: BrokerAddress, cert: ClientCert | Path | None, key: Path | None = None,
                **kwargs: Any) -> ConnectOutcome:
    """Attempt a connection and report whether a successful CONNACK came back (then disconnect)."""
    try:
        client = connect(broker, cert, key, **kwargs)
    except MqttConnectError as exc:
        return ConnectOutcome(False, str(exc))
    client.close()
    return ConnectOutcome(True, "connected")


__all__ = ["ConnectOutcome", "MqttConnectError", "MqttTestClient", "Received", "connect", "mqtt_client",
           "try_connect", "wait_until"]
