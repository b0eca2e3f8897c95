"""Tables. Timestamps are epoch milliseconds (as on the wire), so that SQLite and PostgreSQL agree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

COHORTS = ("green", "blue")


class GatewayRecord(SQLModel, table=True):
    __tablename__ = "gateways"

    id: str = Field(primary_key=True, max_length=64)
    site: str = Field(index=True, max_length=64)
    cohort: str = Field(default="blue", max_length=8)
    cert_fingerprint: str | None = Field(default=None, max_length=64)
    """sha256 of the DER certificate, lowercase hex."""
    registered_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seen_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    online: bool | None = None
    state_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    reported_state: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class EquipmentRecord(SQLModel, table=True):
    __tablename__ = "equipment"

    gateway_id: str = Field(primary_key=True, foreign_key="gateways.id", max_length=64)
    id: str = Field(primary_key=True, max_length=64)
    site: str = Field(index=True, max_length=64)
    first_seen_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seen_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="normal", max_length=16)
    """normal | anomaly (from anomaly_start/end events) | unavailable (from reported state)."""
    status_since_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class EventRecord(SQLModel, table=True):
    """Events from agents; `severity` alert marks the ones an operator must look at."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("gateway_id", "seq", "idx", name="uq_events_gateway_seq_idx"),
        Index("ix_events_ts", "ts_ms"),
        Index("ix_events_equipment", "gateway_id", "equipment", "ts_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    gateway_id: str = Field(max_length=64)
    site: str = Field(max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    idx: int
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=8)
    ts_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    equipment: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=64)
    model_version: str | None = Field(default=None, max_length=64)
    score: float | None = None
    detail: str = Field(default="", max_length=1000)
    received_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class QuarantineRecord(SQLModel, table=True):
    """A message that was not ingested: malformed, over limits, unauthorised or refused by the store."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("topic", "payload_sha256", name="uq_quarantine_topic_payload"),
        Index("ix_quarantine_received", "received_at_ms"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    topic: str = Field(max_length=512)
    gateway_id: str | None = Field(default=None, max_length=64, index=True)
    reason_code: str = Field(max_length=32, index=True)
    field: str = Field(default="", max_length=256)
    reason: str = Field(max_length=1000)
    excerpt: str = Field(sa_column=Column(Text, nullable=False))
    payload_size: int
    payload_sha256: str = Field(max_length=64)
