"""What the API shows of a rollout (read side; no decisions)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from contracts.messages import ModelRef
from hub._errors import NotFound
from hub.rollout.machine import TERMINAL, Rollout
from hub.rollout.observe import reported_states
from hub.rollout.planner import Assignment
from hub.rollout.store import DesiredStateRecord, RolloutContext, RolloutGateRecord, RolloutRecord


class GateVerdict(BaseModel):
    ts_ms: int
    phase: str
    stage: str | None
    outcome: str
    actor: str
    results: list[dict[str, Any]]


class GatewayProgress(BaseModel):
    gateway: str
    cohort: str
    previous: ModelRef | None
    expected: Assignment | None
    """What the current step wants this gateway to report (None: not targeted by the current step)."""
    active: ModelRef | None
    shadow: ModelRef | None
    online: bool | None
    desired_seq: int | None
    desired_published: bool | None


class RolloutSummary(BaseModel):
    id: str
    model: str
    version: str
    phase: str
    stage: str | None
    paused_from: str | None
    reason: str
    created_at_ms: int
    updated_at_ms: int
    created_by: str


class RolloutDetail(RolloutSummary):
    bake_ms: int
    deadline_ms: int
    green: list[str]
    blue: list[str]
    changed: list[str]
    skipped: dict[str, str]
    gates: dict[str, Any]
    last_report: list[dict[str, Any]]
    history: list[GateVerdict]
    gateways: list[GatewayProgress]


def summary(record: RolloutRecord) -> RolloutSummary:
    rollout = Rollout.model_validate(record.record)
    return RolloutSummary(
        id=record.id, model=record.model, version=record.version, phase=record.phase, stage=rollout.stage,
        paused_from=rollout.paused_from.value if rollout.paused_from else None, reason=rollout.reason,
        created_at_ms=record.created_at_ms, updated_at_ms=record.updated_at_ms, created_by=record.created_by,
    )


def list_rollouts(session: Session, active_only: bool = False, model: str | None = None) -> list[RolloutSummary]:
    query = select(RolloutRecord).order_by(col(RolloutRecord.created_at_ms).desc())
    if active_only:
        query = query.where(col(RolloutRecord.phase).not_in([p.value for p in TERMINAL]))
    if model is not None:
        query = query.where(col(RolloutRecord.model) == model)
    return [summary(r) for r in session.exec(query.limit(200)).all()]


def detail(session: Session, rollout_id: str) -> RolloutDetail:
    record = session.get(RolloutRecord, rollout_id)
    if record is None:
        raise NotFound(f"no rollout {rollout_id!r}")
    rollout = Rollout.model_validate(record.record)
    context = RolloutContext.model_validate(record.context)
    return RolloutDetail(
        **summary(record).model_dump(),
        bake_ms=rollout.timing.bake_ms,
        deadline_ms=rollout.timing.deadline_ms,
        green=list(rollout.cohorts.green),
        blue=list(rollout.cohorts.blue),
        changed=sorted(rollout.changed),
        skipped=context.skipped,
        gates=context.gates.model_dump(mode="json"),
        last_report=context.last_report,
        history=_history(session, rollout_id),
        gateways=_progress(session, rollout),
    )


def _history(session: Session, rollout_id: str) -> list[GateVerdict]:
    query = select(RolloutGateRecord).where(col(RolloutGateRecord.rollout_id) == rollout_id)
    records = session.exec(query.order_by(col(RolloutGateRecord.id))).all()
    return [GateVerdict.model_validate(r.model_dump(exclude={"id", "rollout_id"})) for r in records]


def _progress(session: Session, rollout: Rollout) -> list[GatewayProgress]:
    gateways = rollout.cohorts.all()
    expected = rollout.expected()
    states = reported_states(session, gateways)
    query = select(DesiredStateRecord).where(col(DesiredStateRecord.gateway_id).in_(list(gateways)))
    desired = {r.gateway_id: r for r in session.exec(query).all()}
    rows = []
    for gw in sorted(gateways):
        state, sent = states.get(gw), desired.get(gw)
        rows.append(GatewayProgress(
            gateway=gw,
            cohort="green" if gw in rollout.cohorts.green else "blue",
            previous=rollout.previous.get(gw),
            expected=expected.get(gw),
            active=state.models.active if state else None,
            shadow=state.models.shadow if state else None,
            online=state.online if state else None,
            desired_seq=sent.seq if sent else None,
            desired_published=sent.published if sent else None,
        ))
    return rows
