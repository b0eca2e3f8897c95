"""Witnesses: places outside the SQL database where every signed checkpoint is published.

A restored (older) or rewritten database cannot rewrite its witnesses, so `verify` catches it by comparing
the log against the checkpoints they hold. Two are provided:

- `FileWitness`: an append-only JSON-lines file (opened O_APPEND, fsync'd; put it on another disk or host,
  ideally with `chattr +a`).
- `MqttWitness`: a retained MQTT message (the broker keeps the latest checkpoint for anyone to read). It takes
  a `publish(topic, payload)` callable, e.g. `paho_publisher(client)`, so it needs no connection of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hub.audit._errors import CheckpointError, WitnessError
from hub.audit.checkpoints import SignedCheckpoint

DEFAULT_MQTT_TOPIC = "vigie/v1/_audit/down/checkpoint"
"""Writable by the hub under the broker's ACL, readable by no gateway (`_` is not allowed in gateway ids)."""

Publish = Callable[[str, bytes], None]
Fetch = Callable[[str], bytes | None]


class Witness(Protocol):
    name: str

    def publish(self, signed: SignedCheckpoint) -> None:
        """Record `signed` durably; raise WitnessError if that is not possible."""

    def read(self) -> list[SignedCheckpoint]:
        """Every checkpoint the witness holds (raise WitnessError if it cannot be read)."""


class FileWitness:
    """An append-only file of signed checkpoints, one canonical JSON document a line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._lock = threading.Lock()

    def publish(self, signed: SignedCheckpoint) -> None:
        line = signed.to_bytes() + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise WitnessError(f"cannot append to witness file {self.path}: {exc.strerror}") from None

    def read(self) -> list[SignedCheckpoint]:
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise WitnessError(f"cannot read witness file {self.path}: {exc.strerror}") from None
        found: list[SignedCheckpoint] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                found.append(SignedCheckpoint.from_bytes(line))
            except CheckpointError as exc:
                raise WitnessError(f"{self.path}:{number}: {exc}") from None
        return found


class MqttWitness:
    """Publishes each checkpoint as the retained message of `topic` (QoS 1 in `paho_publisher`).

    `fetch(topic)` (optional) reads the retained message back for verification; without it `read` returns
    what this process published last.
    """

    def __init__(self, publish: Publish, topic: str = DEFAULT_MQTT_TOPIC, fetch: Fetch | None = None) -> None:
        self.topic = topic
        self.name = f"mqtt:{topic}"
        self._publish = publish
        self._fetch = fetch
        self._last: SignedCheckpoint | None = None

    def publish(self, signed: SignedCheckpoint) -> None:
        try:
            self._publish(self.topic, signed.to_bytes())
        except WitnessError:
            raise
        except Exception as exc:  # a foreign client: translate whatever it raises at the boundary
            raise WitnessError(f"cannot publish checkpoint to {self.topic}: {type(exc).__name__}") from None
        self._last = signed

    def read(self) -> list[SignedCheckpoint]:
        if self._fetch is None:
            return [self._last] if self._last is not None else []
        try:
            raw = self._fetch(self.topic)
        except Exception as exc:
            raise WitnessError(f"cannot read retained checkpoint of {self.topic}: {type(exc).__name__}") from None
        if raw is None:
            return []
        try:
            return [SignedCheckpoint.from_bytes(raw)]
        except CheckpointError as exc:
            raise WitnessError(f"{self.topic}: {exc}") from None


def paho_publisher(client: Any, qos: int = 1, timeout_s: float = 10.0) -> Publish:
    """A `publish` callable over a connected paho-mqtt client: retained, QoS `qos`, waits for the broker."""

    def publish(topic: str, payload: bytes) -> None:
        info = client.publish(topic, payload, qos=qos, retain=True)
        info.wait_for_publish(timeout=timeout_s)
        if not info.is_published():
            raise WitnessError(f"broker did not acknowledge the checkpoint on {topic} within {timeout_s} s")

    return publish
