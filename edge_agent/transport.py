"""MQTT transport (adapter): paho-mqtt 2.x, MQTT v5 over mutual TLS, QoS 1, one network thread.

- Outbox entries are published in id order with at most `inflight` unacknowledged; an entry is deleted
  from the outbox when its PUBACK arrives. paho keeps unacknowledged messages across a reconnect and
  re-sends them first (DUP), in order; after a restart the whole outbox is published again. Delivery is
  at-least-once; the hub deduplicates on (gateway, equipment, ts).
- Reconnects follow `Backoff` (exponential, jittered). TCP_NODELAY is set on every new socket (Nagle
  adds ~35 ms to the p99.9 of small QoS 1 round trips).
- The retained last will is a ReportedState with online=false; the agent publishes the retained state
  itself (not through the outbox: only the latest matters).
- The network thread sleeps in `select` on the broker socket and a wake-up socket pair (paho's external
  loop API: `loop_read/loop_write/loop_misc`), never in a short polling loop: an idle agent costs next to
  no CPU, and a new outbox entry is sent as soon as its commit wakes the thread.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from contracts import topics
from edge_agent._errors import TransportError
from edge_agent.backoff import Backoff
from edge_agent.config import BrokerSection
from edge_agent.outbox import Outbox
from edge_agent.percentiles import PercentileTracker

log = logging.getLogger("vigie.agent.transport")
IDLE_WAIT_S = 1.0
"""Longest sleep of the network thread with nothing to do (keepalive checks need no finer grain): new outbox
entries, a state to publish and `stop()` wake it through a socket pair, and broker traffic through its socket."""


@dataclass
class TransportStats:
    connects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    published: int = 0
    acked: int = 0
    publish_refused: int = 0
    loop_rounds: int = 0
    """Wake-ups of the network thread (each `select`): a busy loop shows here first."""
    last_error: str = ""
    ack_latency_us: PercentileTracker = field(default_factory=lambda: PercentileTracker(2048))


class MqttTransport:
    """Publishes the outbox and the retained state; delivers `down/desired` payloads to `on_desired`."""

    def __init__(
        self,
        gateway: str,
        broker: BrokerSection,
        outbox: Outbox,
        on_desired: Callable[[bytes], None],
        will: Callable[[], bytes],
        on_online: Callable[[bool], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.broker = broker
        self.outbox = outbox
        self.stats = TransportStats()
        self._on_desired = on_desired
        self._will = will
        self._on_online = on_online
        self._backoff = Backoff(broker.backoff_min_ms, broker.backoff_max_ms)
        self._inflight: dict[int, tuple[int, float]] = {}
        self._acked: list[int] = []
        self._cursor = 0
        self._online = False
        self._socket_up = False
        self._next_attempt = 0.0
        self._state_lock = threading.Lock()
        self._pending_state: bytes | None = None
        self._state_mid: int | None = None
        self._stop = threading.Event()
        self._outbox_dirty = True  # entries may be waiting (always at start: the outbox survives restarts)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._client = self._make_client()
        outbox.on_commit(self.notify)

    @property
    def online(self) -> bool:
        return self._online

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New outbox entries were committed (any thread): wake the network thread to send them."""
        self._outbox_dirty = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full of wake-ups already, or closed at shutdown: nothing to add
            self._wake_w.send(b"\0")

    def publish_state(self, payload: bytes) -> None:
        """Publish a retained up/state (latest wins); sent when connected."""
        with self._state_lock:
            self._pending_state = payload
        self._wake()

    def stop(self, final_state: bytes | None, timeout: float = 3.0) -> None:
        """Publish `final_state` (online=false) if connected, disconnect cleanly, join the thread."""
        if final_state is not None:
            self.publish_state(final_state)
            deadline = time.monotonic() + timeout
            while self._online and (self._pending_state is not None or self._state_mid is not None):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        self._stop.set()
        self._wake()
        self._thread.join(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """While online, wait until every outbox entry is acknowledged (graceful shutdown); True if empty."""
        deadline = time.monotonic() + timeout
        while self._online and time.monotonic() < deadline:
            if self.outbox.stats().depth == 0:
                return True
            time.sleep(0.01)
        return self.outbox.stats().depth == 0

    # -- setup ----------------------------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=self.gateway, protocol=paho.MQTTv5
        )
        client.tls_set_context(self._tls_context())
        client.max_inflight_messages_set(self.broker.inflight + 4)
        client.on_socket_open = self._on_socket_open
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s, clean_start=True)
        return client

    def _tls_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=str(self.broker.ca))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(str(self.broker.cert), str(self.broker.key))
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(f"cannot load TLS material ({self.broker.ca}, {self.broker.cert}): {exc}") from exc
        return ctx

    # -- network thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # the network thread must survive anything (e.g. a failing outbox read)
                log.exception("transport step failed")
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:300]
                self._stop.wait(0.5)
        self._close()

    def _step(self) -> None:
        if not self._socket_up:
            self._try_connect()
            return
        rc = self._io()
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._lost(f"network loop: {paho.error_string(rc)}")
            return
        self._flush_acks()
        if self._online:
            self._pump()

    def _io(self) -> MQTTErrorCode:
        """One round of paho's loop, sleeping on the broker socket and the wake-up pair (see paho `Client._loop`)."""
        client = self._client
        sock = client.socket()
        if sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        buffered = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0  # TLS data select cannot see
        timeout = 0.0 if buffered or self._work_ready() else IDLE_WAIT_S
        writers = [sock] if client.want_write() else []
        self.stats.loop_rounds += 1
        try:
            readable, writable, _ = select.select([sock, self._wake_r], writers, [], timeout)
        except (OSError, ValueError, TypeError):  # the socket was closed under us: the connection is lost
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if self._wake_r in readable:
            self._drain_wake()
        if sock in readable or buffered:
            rc = client.loop_read()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or client.socket() is None:
                return rc if rc != MQTTErrorCode.MQTT_ERR_SUCCESS else MQTTErrorCode.MQTT_ERR_CONN_LOST
        if sock in writable:
            rc = client.loop_write()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
        return client.loop_misc()

    def _work_ready(self) -> bool:
        """Whether `_pump` can send something now. A full in-flight window waits for PUBACKs (socket readable),
        and nothing is sent before CONNACK: neither may turn the loop into a busy wait."""
        if self._acked:
            return True
        if not self._online:
            return False
        window_open = len(self._inflight) < self.broker.inflight
        return self._pending_state is not None or (self._outbox_dirty and window_open)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):  # BlockingIOError once empty
            while self._wake_r.recv(4096):
                pass

    def _close(self) -> None:
        """Clean DISCONNECT (no last will), then the acks that arrived meanwhile."""
        if self._socket_up:
            self._client.disconnect()
            deadline = time.monotonic() + 1.0
            while self._socket_up and time.monotonic() < deadline:
                if self._client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        self._flush_acks()
        self._wake_w.close()
        self._wake_r.close()

    def _try_connect(self) -> None:
        delay = self._next_attempt - time.monotonic()
        if delay > 0:
            self._stop.wait(min(delay, 0.2))
            return
        self._client.will_set(topics.up(self.gateway, topics.UpKind.STATE), self._will(), qos=1, retain=True)
        try:
            rc = self._client.reconnect()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._failed(paho.error_string(rc))
            return
        self._socket_up = True

    def _failed(self, reason: str) -> None:
        self.stats.connect_failures += 1
        self.stats.last_error = reason
        delay = self._backoff.next_ms() / 1000
        self._next_attempt = time.monotonic() + delay
        log.warning("broker connection failed", extra={"reason": reason, "retry_in_s": round(delay, 3)})

    def _lost(self, reason: str) -> None:
        if not self._socket_up:
            return
        was_online = self._online
        self._socket_up = False
        self._set_online(False)
        self.stats.last_error = reason
        self._next_attempt = time.monotonic() + self._backoff.next_ms() / 1000
        if was_online:
            log.warning("broker connection lost", extra={"reason": reason})

    def _pump(self) -> None:
        self._publish_pending_state()
        room = self.broker.inflight - len(self._inflight)
        if room <= 0 or not self._outbox_dirty:
            return
        self._outbox_dirty = False  # before reading: a commit during the read sets it again
        entries = self.outbox.pending(self._cursor, room)
        if len(entries) == room:
            self._outbox_dirty = True  # more may wait behind a full window
        for entry in entries:
            info = self._client.publish(entry.topic, entry.payload, qos=1)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.error("publish failed", extra={"rc": paho.error_string(info.rc)})
                self._outbox_dirty = True  # the rest of this read is still to send, after a short pause
                self._stop.wait(0.05)
                return
            self._inflight[info.mid] = (entry.id, time.perf_counter())
            self._cursor = entry.id
            self.stats.published += 1

    def _publish_pending_state(self) -> None:
        with self._state_lock:
            payload, self._pending_state = self._pending_state, None
        if payload is None:
            return
        info = self._client.publish(topics.up(self.gateway, topics.UpKind.STATE), payload, qos=1, retain=True)
        self._state_mid = info.mid

    def _flush_acks(self) -> None:
        if self._acked:
            acked, self._acked = self._acked, []
            self.outbox.ack(acked)

    def _set_online(self, online: bool) -> None:
        if online != self._online:
            self._online = online
            if self._on_online is not None:
                self._on_online(online)

    # -- paho callbacks (called from `loop`, i.e. this thread) ----------------------------------------
    def _on_socket_open(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        if self.broker.tcp_nodelay:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            self._socket_up = False
            self._failed(f"CONNACK refused: {rc}")
            return
        self.stats.connects += 1
        self._backoff.reset()
        client.subscribe(topics.down(self.gateway), qos=1)
        self._set_online(True)
        log.info("broker connected", extra={"host": self.broker.host, "port": self.broker.port})

    def _on_disconnect(self, _client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.stats.disconnects += 1
        self._lost(f"disconnected: {rc}")

    def _on_publish(self, _client: paho.Client, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        if mid == self._state_mid:
            self._state_mid = None
        item = self._inflight.pop(mid, None)
        if item is None:
            return
        entry_id, sent = item
        if rc is not None and rc.is_failure:
            self.stats.publish_refused += 1
            log.error("broker refused a message; it is dropped", extra={"reason": str(rc), "entry": entry_id})
        self.stats.acked += 1
        self.stats.ack_latency_us.add((time.perf_counter() - sent) * 1e6)
        self._acked.append(entry_id)

    def _on_message(self, _client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            self._on_desired(bytes(message.payload))
        except Exception:  # a bad desired state must never stop the network thread
            log.exception("desired state handler failed")
