"""MQTT topic builders and parsers (ARCHITECTURE section 3).

One gateway id per client certificate: certificate CN = gateway id = MQTT username.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from contracts._errors import TopicError

PREFIX = "vigie/v1"
GATEWAY_ID_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$")


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class UpKind(StrEnum):
    SCORES = "scores"
    EVENTS = "events"
    SKETCH = "sketch"
    STATE = "state"


class DownKind(StrEnum):
    DESIRED = "desired"


@dataclass(frozen=True, slots=True)
class Topic:
    gateway: str
    direction: Direction
    kind: str

    def __str__(self) -> str:
        return f"{PREFIX}/{self.gateway}/{self.direction.value}/{self.kind}"


def validate_gateway_id(gateway: str) -> str:
    """Return `gateway` if it is a valid id (letters, digits, inner `-`, 1-64 chars), else raise."""
    if not isinstance(gateway, str) or not GATEWAY_ID_PATTERN.fullmatch(gateway):
        raise TopicError(
            f"invalid gateway id {gateway!r}: use 1-64 letters, digits or '-' (not first or last)"
        )
    return gateway


def up(gateway: str, kind: UpKind) -> str:
    """Topic an agent publishes `kind` on."""
    return str(Topic(validate_gateway_id(gateway), Direction.UP, UpKind(kind).value))


def down(gateway: str, kind: DownKind = DownKind.DESIRED) -> str:
    """Topic the hub publishes `kind` on for one gateway."""
    return str(Topic(validate_gateway_id(gateway), Direction.DOWN, DownKind(kind).value))


def hub_up_filter(shared_group: str | None = None) -> str:
    """Subscription filter for every gateway's `up/` topics, optionally as an MQTT shared subscription."""
    base = f"{PREFIX}/+/up/#"
    return f"$share/{shared_group}/{base}" if shared_group else base


def parse(topic: str) -> Topic:
    """Parse a concrete topic; raise TopicError naming what is wrong."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != PREFIX:
        raise TopicError(f"not a {PREFIX} topic: {topic[:200]!r}")
    gateway, direction, kind = parts[2], parts[3], parts[4]
    validate_gateway_id(gateway)
    if direction == Direction.UP.value and kind in UpKind.__members__.values():
        return Topic(gateway, Direction.UP, kind)
    if direction == Direction.DOWN.value and kind in DownKind.__members__.values():
        return Topic(gateway, Direction.DOWN, kind)
    raise TopicError(f"unknown direction/kind {direction}/{kind} in {topic[:200]!r}")
