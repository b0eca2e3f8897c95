"""Request and response bodies of the REST API (OpenAPI is generated from these)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts._base import GatewayId, Identifier

Cohort = Literal["green", "blue"]
Fingerprint = str
FINGERPRINT_PATTERN = r"^[0-9a-f]{64}$"


class GatewayCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: GatewayId
    site: Identifier
    cohort: Cohort = "blue"
    cert_fingerprint: str | None = Field(None, pattern=FINGERPRINT_PATTERN, description="sha256 of the DER cert")


class GatewayUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Identifier | None = None
    cohort: Cohort | None = None
    cert_fingerprint: str | None = Field(None, pattern=FINGERPRINT_PATTERN)


class GatewaySummary(BaseModel):
    id: str
    site: str
    cohort: str
    cert_fingerprint: str | None
    registered_at_ms: int
    last_seen_ms: int | None
    status: Literal["never_seen", "online", "offline", "unknown"]
    """From the last reported state (the last-will message reports offline)."""
    state_seq: int | None


class GatewayDetail(GatewaySummary):
    reported_state: dict[str, Any] | None


class LatestScore(BaseModel):
    ts_ms: int
    anomaly_score: float | None
    is_anomaly: bool | None
    threshold: float | None
    model: str | None
    model_version: str | None


class EquipmentOut(BaseModel):
    gateway: str
    id: str
    site: str
    status: str
    status_since_ms: int | None
    first_seen_ms: int
    last_seen_ms: int
    latest: LatestScore | None


class SeriesPoint(BaseModel):
    ts_ms: int
    values: dict[str, float | None]


class SeriesOut(BaseModel):
    measurement: str
    gateway: str
    equipment: str
    start_ms: int
    end_ms: int
    interval_ms: int | None = Field(description="null: raw points; else the width of the aggregated buckets")
    points: list[SeriesPoint]


class EventOut(BaseModel):
    id: int
    gateway: str
    site: str
    seq: int
    kind: str
    severity: str
    ts_ms: int
    equipment: str | None
    model: str | None
    model_version: str | None
    score: float | None
    detail: str
    received_at_ms: int


class QuarantineOut(BaseModel):
    id: int
    received_at_ms: int
    topic: str
    gateway: str | None
    reason_code: str
    field: str
    reason: str
    excerpt: str
    payload_size: int
    payload_sha256: str


class EventPage(BaseModel):
    items: list[EventOut]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class QuarantinePage(BaseModel):
    items: list[QuarantineOut]
    next_before_id: int | None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}
