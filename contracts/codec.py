"""Decoding payloads by topic: the one entry point the hub and agent use for inbound bytes."""

from __future__ import annotations

from contracts import topics
from contracts._base import decode_as
from contracts._errors import PayloadError
from contracts.limits import MAX_PAYLOAD_BYTES
from contracts.messages import DesiredState, EventsBatch, ReportedState, ScoresBatch, Sketch, UpMessage

_UP_MODELS: dict[str, type[UpMessage]] = {
    topics.UpKind.SCORES.value: ScoresBatch,
    topics.UpKind.EVENTS.value: EventsBatch,
    topics.UpKind.SKETCH.value: Sketch,
    topics.UpKind.STATE.value: ReportedState,
}


def decode_up(topic: str, payload: bytes, max_bytes: int = MAX_PAYLOAD_BYTES) -> tuple[topics.Topic, UpMessage]:
    """Parse an `up/` topic and its payload; the payload's gateway must be the topic's gateway."""
    parsed = topics.parse(topic)
    if parsed.direction is not topics.Direction.UP:
        raise PayloadError("", f"not an up topic: {topic[:200]!r}")
    message = decode_as(_UP_MODELS[parsed.kind], payload, max_bytes)
    if message.gateway != parsed.gateway:
        reason = f"payload gateway {message.gateway!r} does not match topic gateway {parsed.gateway!r}"
        raise PayloadError("gateway", reason)
    return parsed, message


def decode_desired(gateway: str, payload: bytes) -> DesiredState:
    """Decode a `down/desired` payload addressed to `gateway`."""
    message = decode_as(DesiredState, payload)
    if message.gateway != gateway:
        raise PayloadError("gateway", f"desired state is for {message.gateway!r}, not {gateway!r}")
    return message
