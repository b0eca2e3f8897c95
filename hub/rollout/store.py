"""Rollout tables and their persistence: the machine's record as JSON, optimistic locking on `rev`.

    rollouts         one row per rollout: the `machine.Rollout` record and the controller's `RolloutContext`
    rollout_gates    every gate verdict recorded by the machine (passed, failed, forced), with its results
    desired_states   the last desired state written for each gateway (its seq, payload, whether the broker
                     acknowledged it): sequences keep increasing across restarts, unpublished ones are retried
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from contracts.messages import ReportedState
from hub.rollout.gates import GateConfig, GateResult


class RolloutRecord(SQLModel, table=True):
    __tablename__ = "rollouts"

    id: str = Field(primary_key=True, max_length=64)
    model: str = Field(max_length=64, index=True)
    version: str = Field(max_length=64)
    phase: str = Field(max_length=16, index=True)
    record: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """`machine.Rollout` as JSON."""
    context: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """`RolloutContext` as JSON."""
    rev: int = 0
    """Incremented by every update; an update that finds another `rev` lost a race and is dropped."""
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_by: str = Field(max_length=64)


class RolloutGateRecord(SQLModel, table=True):
    __tablename__ = "rollout_gates"

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: str = Field(max_length=64, index=True)
    ts_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    phase: str = Field(max_length=16)
    stage: str | None = Field(default=None, max_length=8)
    outcome: str = Field(max_length=8)
    actor: str = Field(max_length=64)
    results: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))


class DesiredStateRecord(SQLModel, table=True):
    __tablename__ = "desired_states"

    gateway_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    rollout_id: str | None = Field(default=None, max_length=64)
    updated_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    published: bool = False
    """True once the broker acknowledged the retained message with this seq."""


class RolloutContext(BaseModel):
    """What the controller remembers besides the machine's record (baselines for the gates)."""

    model_config = ConfigDict(extra="forbid")

    gates: GateConfig
    created_by: str
    reference_p99_us: dict[str, float] = {}
    """Score latency p99 of each gateway under the previous version, when the rollout was created (the model's
    own p99 when the agent reports one, see `gates.reference_p99`)."""
    step_started_ms: int = 0
    """When the desired states of the current step were written (failure events count from here)."""
    baselines: dict[str, ReportedState] = {}
    """Reported states when the current bake started (counters are cumulative)."""
    desired_seq: dict[str, int] = {}
    """Seq of the desired state written by this rollout for each gateway (its `update` answers it)."""
    skipped: dict[str, str] = {}
    """Gateways left out of the rollout, with the reason."""
    last_report: list[dict[str, Any]] = []
    """The latest gate evaluation, for `status`."""


def results_json(results: tuple[GateResult, ...]) -> list[dict[str, Any]]:
    return [{"name": r.name, "status": r.status, "detail": r.detail, "hard": r.hard} for r in results]
