"""Pure ingest logic: classify one inbound message, and turn a batch into points plus SQL changes.

No I/O here: the worker (`worker.py`) does the writing and acknowledging.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts import topics
from contracts._errors import ContractError, LimitError, PayloadError, TopicError
from contracts.codec import decode_up
from contracts.limits import MAX_PAYLOAD_BYTES
from contracts.messages import EventsBatch, ReportedState, ScoresBatch, Sketch, UpMessage
from hub.series.base import Point
from hub.series.points import agent_point, score_points

ALERT_KINDS = frozenset({"anomaly_start", "model_load_failed", "model_rejected"})
WARNING_KINDS = frozenset({"outbox_pressure", "source_unavailable"})
REASON_CODES = (
    "topic", "limit", "not_json", "schema", "gateway_mismatch", "unregistered", "store_rejected", "internal",
)
"""Bounded set of quarantine reasons (the Prometheus label); the detail is in `field` and `reason`."""


@dataclass(frozen=True, slots=True)
class Inbound:
    """One MQTT message as received. `generation` counts connections: acks of older ones are void."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int
    received_ms: int


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    id: str
    site: str
    cohort: str


@dataclass(frozen=True, slots=True)
class Rejection:
    code: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Accepted:
    inbound: Inbound
    message: UpMessage
    gateway: GatewayInfo
    points: list[Point]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    received_ms: int
    topic: str
    gateway: str | None
    code: str
    field: str
    reason: str
    excerpt: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class EventEntry:
    gateway: str
    site: str
    seq: int
    idx: int
    kind: str
    severity: str
    ts_ms: int
    equipment: str | None
    model: str | None
    model_version: str | None
    score: float | None
    detail: str
    received_ms: int


@dataclass(frozen=True, slots=True)
class StateUpdate:
    gateway: str
    seq: int
    online: bool
    state: dict[str, Any]
    unavailable: frozenset[str]
    available: frozenset[str]
    ts_ms: int


@dataclass(slots=True)
class SqlPlan:
    """Every SQL change one batch makes; applied in one transaction before the batch is acknowledged."""

    quarantine: list[QuarantineEntry] = field(default_factory=list)
    events: list[EventEntry] = field(default_factory=list)
    last_seen: dict[str, int] = field(default_factory=dict)
    states: list[StateUpdate] = field(default_factory=list)
    equipment_seen: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    """(gateway, equipment) -> (site, received_ms)."""


GatewayLookup = Callable[[str], GatewayInfo | None]


def classify(inbound: Inbound, lookup: GatewayLookup, max_bytes: int = MAX_PAYLOAD_BYTES) -> Accepted | Rejection:
    """Decode and authorise one message; never raises."""
    try:
        parsed, message = decode_up(inbound.topic, inbound.payload, max_bytes)
    except ContractError as exc:
        return rejection_for(exc)
    except Exception as exc:  # a decoder bug must not stop ingest: quarantine and go on
        return Rejection("internal", "", f"{type(exc).__name__}: {str(exc)[:200]}")
    gateway = lookup(parsed.gateway)
    if gateway is None:
        return Rejection("unregistered", "gateway", f"gateway {parsed.gateway!r} is not registered")
    return Accepted(inbound, message, gateway, points_for(message, gateway.site))


def rejection_for(exc: ContractError) -> Rejection:
    """Map a contracts error onto a bounded reason code, keeping its field and text."""
    if isinstance(exc, TopicError):
        return Rejection("topic", "topic", str(exc))
    if isinstance(exc, LimitError):
        return Rejection("limit", exc.field, exc.reason)
    if isinstance(exc, PayloadError):
        if exc.field == "" and exc.reason.startswith("not valid UTF-8 JSON"):
            return Rejection("not_json", "", exc.reason)
        if exc.field == "" and exc.reason.startswith("not an up topic"):
            return Rejection("topic", "topic", exc.reason)
        if exc.field == "gateway" and "does not match topic" in exc.reason:
            return Rejection("gateway_mismatch", exc.field, exc.reason)
        return Rejection("schema", exc.field, exc.reason)
    return Rejection("schema", "", str(exc))


def points_for(message: UpMessage, site: str) -> list[Point]:
    if isinstance(message, ScoresBatch):
        return score_points(message, site)
    if isinstance(message, ReportedState):
        return [agent_point(message, site)]
    return []  # events go to SQL; sketches feed the drift monitor (not part of ingest yet)


def quarantine_entry(inbound: Inbound, rejection: Rejection, excerpt_bytes: int) -> QuarantineEntry:
    gateway: str | None = None
    with contextlib.suppress(TopicError):
        gateway = topics.parse(inbound.topic).gateway
    return QuarantineEntry(
        received_ms=inbound.received_ms,
        topic=clean_text(inbound.topic, 512),
        gateway=gateway,
        code=rejection.code,
        field=clean_text(rejection.field, 256),
        reason=clean_text(rejection.reason, 1000),
        excerpt=clean_text(inbound.payload[:excerpt_bytes].decode("utf-8", "backslashreplace"), 4 * excerpt_bytes),
        size=len(inbound.payload),
        sha256=hashlib.sha256(inbound.payload).hexdigest(),
    )


def clean_text(text: str, limit: int) -> str:
    """Bounded text that every database accepts (PostgreSQL refuses NUL characters)."""
    return text.replace("\x00", "\\x00")[:limit]


def sql_plan(accepted: Iterable[Accepted], quarantined: Iterable[QuarantineEntry]) -> SqlPlan:
    plan = SqlPlan(quarantine=list(quarantined))
    for item in accepted:
        gateway, received = item.gateway, item.inbound.received_ms
        plan.last_seen[gateway.id] = max(received, plan.last_seen.get(gateway.id, 0))
        message = item.message
        if isinstance(message, ScoresBatch):
            for reading in message.readings:
                plan.equipment_seen[(gateway.id, reading.equipment)] = (gateway.site, received)
        elif isinstance(message, EventsBatch):
            plan.events.extend(_events(message, gateway, received))
            for event in message.events:
                if event.equipment:
                    plan.equipment_seen[(gateway.id, event.equipment)] = (gateway.site, received)
        elif isinstance(message, ReportedState):
            plan.states.append(_state(message))
        elif isinstance(message, Sketch):
            plan.equipment_seen[(gateway.id, message.equipment)] = (gateway.site, received)
    return plan


def severity(kind: str) -> str:
    if kind in ALERT_KINDS:
        return "alert"
    return "warning" if kind in WARNING_KINDS else "info"


def _events(batch: EventsBatch, gateway: GatewayInfo, received_ms: int) -> list[EventEntry]:
    return [
        EventEntry(
            gateway=gateway.id,
            site=gateway.site,
            seq=batch.seq,
            idx=idx,
            kind=e.kind,
            severity=severity(e.kind),
            ts_ms=e.ts,
            equipment=e.equipment,
            model=e.model,
            model_version=e.model_version,
            score=e.score,
            detail=clean_text(e.detail, 1000),
            received_ms=received_ms,
        )
        for idx, e in enumerate(batch.events)
    ]


def _state(state: ReportedState) -> StateUpdate:
    return StateUpdate(
        gateway=state.gateway,
        seq=state.seq,
        online=state.online,
        state=state.model_dump(mode="json", by_alias=True),
        unavailable=frozenset(e.equipment for e in state.equipment if not e.available),
        available=frozenset(e.equipment for e in state.equipment if e.available),
        ts_ms=state.ts,
    )
