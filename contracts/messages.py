"""Versioned MQTT message models (ARCHITECTURE section 3).

Every payload carries `schema` ("vigie.<kind>/<major>"), the gateway id and a batch sequence that
increases monotonically per gateway and kind.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from contracts._base import (
    Counter,
    FiniteFloat,
    GatewayId,
    Identifier,
    SemVer,
    Sequence,
    TimestampMs,
    WireModel,
)
from contracts.limits import (
    MAX_BATCH_EVENTS,
    MAX_BATCH_READINGS,
    MAX_BINS,
    MAX_CHANNELS,
    MAX_EQUIPMENT_PER_GATEWAY,
    MAX_FEATURES,
    MAX_TEXT,
)

Slot = Literal["active", "shadow"]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


class ModelRef(WireModel):
    name: Identifier
    version: SemVer


class Reading(WireModel):
    """One scored reading of one equipment."""

    equipment: Identifier
    ts: TimestampMs
    values: Annotated[dict[Identifier, FiniteFloat], Field(max_length=MAX_CHANNELS)]
    score: FiniteFloat
    is_anomaly: bool
    threshold: FiniteFloat
    model: Identifier
    model_version: SemVer
    slot: Slot = "active"


class ScoresBatch(WireModel):
    schema_: Literal["vigie.scores/1"] = Field("vigie.scores/1", alias="schema")
    gateway: GatewayId
    seq: Sequence
    readings: Annotated[list[Reading], Field(min_length=1, max_length=MAX_BATCH_READINGS)]


EventKind = Literal[
    "anomaly_start",
    "anomaly_end",
    "model_swapped",
    "model_rejected",
    "model_load_failed",
    "outbox_pressure",
    "source_unavailable",
    "source_recovered",
]


class Event(WireModel):
    kind: EventKind
    ts: TimestampMs
    equipment: Identifier | None = None
    model: Identifier | None = None
    model_version: SemVer | None = None
    score: FiniteFloat | None = None
    detail: Text = ""


class EventsBatch(WireModel):
    schema_: Literal["vigie.events/1"] = Field("vigie.events/1", alias="schema")
    gateway: GatewayId
    seq: Sequence
    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_BATCH_EVENTS)]


class FeatureCounts(WireModel):
    """Counts per bin; the bin edges are the manifest's reference histogram for this feature."""

    name: Identifier
    counts: Annotated[list[Counter], Field(min_length=1, max_length=MAX_BINS + 2)]


class Sketch(WireModel):
    """Per-window histograms of each feature (and of the score) for drift detection."""

    schema_: Literal["vigie.sketch/1"] = Field("vigie.sketch/1", alias="schema")
    gateway: GatewayId
    seq: Sequence
    equipment: Identifier
    model: Identifier
    model_version: SemVer
    window_start: TimestampMs
    window_end: TimestampMs
    n: Counter
    features: Annotated[list[FeatureCounts], Field(min_length=1, max_length=MAX_FEATURES + 1)]

    @model_validator(mode="after")
    def _window_ordered(self) -> Sketch:
        if self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self


class OutboxStatus(WireModel):
    depth: Counter
    capacity: Counter
    strategy: Literal["reject_new", "drop_oldest"]
    dropped: Counter = 0
    rejected: Counter = 0


class Counters(WireModel):
    readings_in: Counter = 0
    scored: Counter = 0
    unscoreable: Counter = 0
    score_errors: Counter = 0
    source_errors: Counter = 0
    malformed_desired: Counter = 0


class Latency(WireModel):
    """Score latency per batch, microseconds."""

    p50_us: FiniteFloat = 0.0
    p99_us: FiniteFloat = 0.0
    p999_us: FiniteFloat = 0.0


class ModelLatency(Latency):
    """Scoring cost of the model in the active slot alone, over its passes since it last became active.

    `Latency` (the overall window, wall-clock) still mixes in the model before a swap; this one never does.
    It is the CPU time of the scoring thread, so a pass the OS descheduled on a busy gateway does not read as
    a slower model. A pass also includes the shadow model's time while one is loaded.
    """

    model: ModelRef
    samples: Counter = 0
    """Scoring passes the percentiles are computed over (the window's size at most)."""


class ModelSlots(WireModel):
    active: ModelRef | None = None
    previous: ModelRef | None = None
    shadow: ModelRef | None = None


class EquipmentStatus(WireModel):
    equipment: Identifier
    available: bool
    reason: Text = ""


class UpdateStatus(WireModel):
    """What happened to the last desired state the agent received."""

    desired_seq: Sequence
    outcome: Literal["applied", "rejected", "failed", "pending"]
    reason: Text = ""


class ReportedState(WireModel):
    schema_: Literal["vigie.state/1"] = Field("vigie.state/1", alias="schema")
    gateway: GatewayId
    seq: Sequence
    ts: TimestampMs
    online: bool
    site: Identifier | None = None
    agent_version: Annotated[str, Field(max_length=64)] = ""
    models: ModelSlots = ModelSlots()
    outbox: OutboxStatus | None = None
    counters: Counters = Counters()
    latency: Latency = Latency()
    model_latency: ModelLatency | None = None
    """Absent from agents older than the field, and before any model scored."""
    equipment: Annotated[list[EquipmentStatus], Field(max_length=MAX_EQUIPMENT_PER_GATEWAY)] = []
    update: UpdateStatus | None = None
    rss_mb: FiniteFloat | None = None


class DesiredState(WireModel):
    """What the hub wants a gateway to run. `seq` increases with every change the hub makes."""

    schema_: Literal["vigie.desired/1"] = Field("vigie.desired/1", alias="schema")
    gateway: GatewayId
    seq: Sequence
    issued_at: TimestampMs
    active: ModelRef | None = None
    shadow: ModelRef | None = None
    allow_downgrade: bool = False
    """True only when the hub rolls back: the agent may then go back to an older version."""
    rollout_id: Annotated[str, Field(max_length=64)] | None = None


UpMessage = ScoresBatch | EventsBatch | Sketch | ReportedState
