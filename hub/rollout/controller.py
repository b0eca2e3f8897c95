"""The rollout controller: runs the pure state machine against SQL, agent reports and operator commands.

Every decision is `machine.step`'s. This module loads and stores the record (optimistic locking on
`rev`: several hub replicas may tick the same rollout, a writer that lost the race drops its step),
turns `Assign` actions into desired states (`desired_states` keeps each gateway's last seq), publishes
them retained only after the transaction committed (unacknowledged ones are retried every tick), records
gate verdicts and appends audit entries.

A restarted hub resumes every rollout from its last committed step: the record holds the phase and its
start time, `desired_states` what each gateway was told, and the retained messages are still on the broker.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import update
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session, col, select

from contracts.messages import DesiredState, ModelRef, ReportedState
from hub._errors import Conflict, HubError, NotFound
from hub.db.engine import session_scope
from hub.db.models import GatewayRecord
from hub.registry.service import Registry
from hub.rollout import machine
from hub.rollout.gates import GateConfig, GateReport, HealthGates, ShadowStats, evaluate, reference_p99
from hub.rollout.machine import BAKING, ROLLING, TERMINAL, Assign, AuditEntry, Phase, RecordGate, Rollout, Step
from hub.rollout.observe import observations, parse_state, shadow_stats
from hub.rollout.planner import Assignment, GatewayInfo, desired_states
from hub.rollout.publisher import DesiredSink
from hub.rollout.settings import RolloutSettings
from hub.rollout.store import DesiredStateRecord, RolloutContext, RolloutGateRecord, RolloutRecord, results_json
from hub.series.base import SeriesStore

log = logging.getLogger("hub.rollout")
Command = Literal["start", "pause", "resume", "abort", "promote"]


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str = ""


HUB = Actor("hub")
AuditFn = Callable[[str, Actor, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    every_s: float
    run: Callable[[], object]
    name: str


@dataclass(frozen=True, slots=True)
class _Loaded:
    rev: int
    rollout: Rollout
    context: RolloutContext


class _Stale(Exception):
    """Another writer updated the rollout since it was loaded."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RolloutController:
    def __init__(
        self,
        engine: Engine,
        store: SeriesStore,
        registry: Registry,
        sink: DesiredSink,
        audit: AuditFn,
        settings: RolloutSettings,
        default_gates: GateConfig | None = None,
        clock_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.engine = engine
        self.store = store
        self.registry = registry
        self.sink = sink
        self.audit = audit
        self.settings = settings
        self.default_gates = default_gates or GateConfig()
        self.clock_ms = clock_ms
        self.jobs: list[PeriodicJob] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- operator commands --------------------------------------------------------------------------

    def create(
        self, model: str, version: str, actor: Actor, bake_ms: int | None = None, gates: GateConfig | None = None
    ) -> str:
        """Plan and start a rollout of a published, non-deprecated version; returns its id."""
        self.registry.deployable(model, version)
        gates = gates or self.default_gates
        bake = self.settings.default_bake if bake_ms is None else bake_ms
        now = self.clock_ms()
        rollout_id = f"r-{now}-{uuid.uuid4().hex[:6]}"
        with session_scope(self.engine) as session:
            _refuse_concurrent(session, model)
            rollout, context = self._plan(session, rollout_id, ModelRef(name=model, version=version), gates, bake)
            context = context.model_copy(update={"created_by": actor.name})
            session.add(_new_record(rollout, context, now))
        self.audit("rollout.create", actor, {"rollout_id": rollout_id, "model": model, "version": version,
                                             "bake_ms": bake, "green": ",".join(rollout.cohorts.green)})
        self.command(rollout_id, "start", actor)  # a tick may already have touched the record: retried there
        return rollout_id

    def command(self, rollout_id: str, kind: Command, actor: Actor, *, force: bool = False, reason: str = "") -> None:
        """start / pause / resume / abort / promote (`force`: skip failing gates; the API checks the admin role).

        Retried when a tick (of this or another hub) updated the rollout in between.
        """
        for _attempt in range(5):
            loaded = self._load(rollout_id)
            now = self.clock_ms()
            report, states = self._evaluate(loaded) if kind == "promote" else (GateReport(), {})
            event = _command_event(kind, now, actor.name, force, reason or "aborted by operator", report)
            try:
                self._apply(loaded, event, actor, report, states)
                return
            except _Stale:
                continue
        raise Conflict(f"rollout {rollout_id} kept changing while the command ran; try again")

    # --- the loop -----------------------------------------------------------------------------------

    def tick(self) -> None:
        """Evaluate every active rollout once."""
        for rollout_id in self.active_ids():
            try:
                loaded = self._load(rollout_id)
                report, states = self._evaluate(loaded)
                self._apply(loaded, machine.Tick(self.clock_ms(), report), HUB, report, states)
            except _Stale:
                continue
            except HubError as exc:  # e.g. the series store is down: this rollout waits for the next tick
                log.warning("rollout tick failed", extra={"rollout_id": rollout_id, "error": str(exc)})
            except Exception:  # a bug with one rollout must not stop the others
                log.exception("rollout tick failed", extra={"rollout_id": rollout_id})

    def republish(self) -> int:
        """Publish every desired state the broker has not acknowledged yet; returns how many went out."""
        with session_scope(self.engine) as session:
            pending = list(session.exec(select(DesiredStateRecord).where(col(DesiredStateRecord.published).is_(False))))
        states = [DesiredState.model_validate(r.payload) for r in pending]
        return self._publish(states)

    def active_ids(self) -> list[str]:
        terminal = [p.value for p in TERMINAL]
        with session_scope(self.engine) as session:
            query = select(RolloutRecord.id).where(col(RolloutRecord.phase).not_in(terminal))
            return list(session.exec(query.order_by(col(RolloutRecord.created_at_ms))).all())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigie-rollout", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        due = {job.name: 0.0 for job in self.jobs}
        while not self._stop.is_set():
            for name, work in (("republish", self.republish), ("tick", self.tick)):
                _safely(name, work)
            for job in self.jobs:
                if time.monotonic() >= due[job.name]:
                    due[job.name] = time.monotonic() + job.every_s
                    _safely(job.name, job.run)
            self._stop.wait(self.settings.tick_s)

    # --- internals ----------------------------------------------------------------------------------

    def _plan(
        self, session: Session, rollout_id: str, model: ModelRef, gates: GateConfig, bake_ms: int
    ) -> tuple[Rollout, RolloutContext]:
        records = session.exec(select(GatewayRecord)).all()
        infos, previous, p99, skipped = _targets(records, model.name, gates.health)
        if not infos:
            raise Conflict(f"no gateway can take {model.name}: {skipped or 'none registered'}")
        timing = machine.Timing(
            bake_ms=bake_ms, deadline_ms=gates.deadline, rollback_deadline_ms=gates.rollback_deadline
        )
        rollout = machine.new_rollout(
            rollout_id, model, infos, previous, timing, shadow_stage=gates.ml.enabled,
            on_gate_failure=gates.on_failure, min_green_per_site=self.settings.min_green_per_site,
        )
        return rollout, RolloutContext(gates=gates, created_by="", reference_p99_us=p99, skipped=skipped)

    def _load(self, rollout_id: str) -> _Loaded:
        with session_scope(self.engine) as session:
            record = session.get(RolloutRecord, rollout_id)
            if record is None:
                raise NotFound(f"no rollout {rollout_id!r}")
            rollout = Rollout.model_validate(record.record)
            return _Loaded(record.rev, rollout, RolloutContext.model_validate(record.context))

    def _evaluate(self, loaded: _Loaded) -> tuple[GateReport, dict[str, ReportedState | None]]:
        rollout, context = loaded.rollout, loaded.context
        with session_scope(self.engine) as session:
            observed = observations(session, rollout, context)
            shadow = self._shadow(session, rollout)
        return evaluate(context.gates, observed, shadow), {o.gateway: o.state for o in observed}

    def _shadow(self, session: Session, rollout: Rollout) -> ShadowStats | None:
        if rollout.effective_phase is not Phase.GREEN_BAKING or rollout.stage != "shadow":
            return None
        green = rollout.cohorts.green
        return shadow_stats(self.store, session, green, rollout.model, self.settings.max_pair_points)

    def _apply(
        self,
        loaded: _Loaded,
        event: machine.Event,
        actor: Actor,
        report: GateReport | None = None,
        states: dict[str, ReportedState | None] | None = None,
    ) -> None:
        step = machine.step(loaded.rollout, event)
        now = self.clock_ms()
        context = _next_context(loaded, step, report or GateReport(), states or {}, now)
        if not step.actions and step.rollout == loaded.rollout and context == loaded.context:
            return
        written = self._commit(loaded, step, context, now)
        self._publish(written)
        self._record_audit(step.actions, actor)

    def _commit(self, loaded: _Loaded, step: Step, context: RolloutContext, now: int) -> list[DesiredState]:
        assignments = {gw: a for act in step.actions if isinstance(act, Assign) for gw, a in act.assignments.items()}
        rollout_id = step.rollout.rollout_id
        with session_scope(self.engine) as session:
            written = _write_desired(session, assignments, rollout_id, now)
            seqs = {**context.desired_seq, **{s.gateway: s.seq for s in written}}
            context = context.model_copy(update={"desired_seq": seqs})
            values = {
                "record": step.rollout.model_dump(mode="json"),
                "context": context.model_dump(mode="json"),
                "phase": step.rollout.phase.value,
                "rev": loaded.rev + 1,
                "updated_at_ms": now,
            }
            where = (col(RolloutRecord.id) == rollout_id, col(RolloutRecord.rev) == loaded.rev)
            statement = update(RolloutRecord).where(*where).values(**values)
            result = cast(CursorResult[Any], session.execute(statement))  # an UPDATE gives a CursorResult
            if result.rowcount != 1:
                session.rollback()
                raise _Stale(rollout_id)
            session.add_all(_gate_records(rollout_id, step.actions, now))
        return written

    def _publish(self, states: Sequence[DesiredState]) -> int:
        """Publish a wave and mark what the broker acknowledged, in one transaction."""
        acknowledged = self.sink.publish(states) if states else []
        if acknowledged:
            with session_scope(self.engine) as session:
                for state in acknowledged:
                    where = (col(DesiredStateRecord.gateway_id) == state.gateway,
                             col(DesiredStateRecord.seq) == state.seq)
                    session.execute(update(DesiredStateRecord).where(*where).values(published=True))
        return len(acknowledged)

    def _record_audit(self, actions: Sequence[machine.Action], actor: Actor) -> None:
        for action in actions:
            if isinstance(action, Assign):
                continue
            who = actor if action.actor == actor.name else Actor(action.actor)
            if isinstance(action, AuditEntry):
                self.audit(action.action, who, dict(action.detail))
            elif isinstance(action, RecordGate):
                detail = {"phase": action.phase.value, "stage": action.stage or "", "outcome": action.outcome,
                          "results": "; ".join(f"{r.name}={r.status}" for r in action.results)}
                self.audit("rollout.gate", who, detail)


def _safely(name: str, work: Callable[[], object]) -> None:
    try:
        work()
    except Exception:  # the loop must survive anything; the next round tries again
        log.exception("rollout job failed", extra={"job": name})


def _command_event(
    kind: Command, now: int, actor: str, force: bool, reason: str, report: GateReport
) -> machine.Event:
    if kind == "start":
        return machine.Start(now, actor)
    if kind == "pause":
        return machine.Pause(now, actor)
    if kind == "resume":
        return machine.Resume(now, actor)
    if kind == "abort":
        return machine.Abort(now, actor, reason)
    return machine.Promote(now, actor, force, report)


def _refuse_concurrent(session: Session, model: str) -> None:
    terminal = [p.value for p in TERMINAL]
    query = select(RolloutRecord.id).where(col(RolloutRecord.model) == model, col(RolloutRecord.phase).not_in(terminal))
    running = session.exec(query).first()
    if running is not None:
        raise Conflict(f"rollout {running} of {model} is still running: finish or abort it first")


def _targets(
    records: Sequence[GatewayRecord], model: str, health: HealthGates
) -> tuple[list[GatewayInfo], dict[str, ModelRef | None], dict[str, float], dict[str, str]]:
    """Gateways that run `model` (or nothing) and have reported at least once, with their latency reference;
    the others, with why not."""
    infos: list[GatewayInfo] = []
    previous: dict[str, ModelRef | None] = {}
    p99: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for record in records:
        state = parse_state(record.reported_state)
        active = state.models.active if state is not None else None
        if state is None:
            skipped[record.id] = "has never reported its state"
        elif active is not None and active.name != model:
            skipped[record.id] = f"runs another model ({active.name})"
        else:
            cohort: Literal["green"] | None = "green" if record.cohort == "green" else None
            infos.append(GatewayInfo(gateway=record.id, site=record.site, cohort=cohort))
            previous[record.id] = active
            reference = reference_p99(health, state)
            if reference is not None:
                p99[record.id] = reference
    return infos, previous, p99, skipped


def _new_record(rollout: Rollout, context: RolloutContext, now: int) -> RolloutRecord:
    return RolloutRecord(
        id=rollout.rollout_id,
        model=rollout.model.name,
        version=rollout.model.version,
        phase=rollout.phase.value,
        record=rollout.model_dump(mode="json"),
        context=context.model_dump(mode="json"),
        rev=0,
        created_at_ms=now,
        updated_at_ms=now,
        created_by=context.created_by[:64],
    )


def _next_context(
    loaded: _Loaded, step: Step, report: GateReport, states: dict[str, ReportedState | None], now: int
) -> RolloutContext:
    """Remember the latest gate report; new step: restart failure counting; new bake: baseline the counters."""
    update: dict[str, Any] = {}
    if report.results:
        update["last_report"] = results_json(report.results)
    if any(isinstance(a, Assign) for a in step.actions):
        update.update(step_started_ms=now, baselines={})
    if step.rollout.phase in BAKING and loaded.rollout.effective_phase in ROLLING:
        update["baselines"] = {gw: s for gw, s in states.items() if s is not None}
    return loaded.context.model_copy(update=update)


def _write_desired(
    session: Session, assignments: dict[str, Assignment], rollout_id: str, now: int
) -> list[DesiredState]:
    if not assignments:
        return []
    query = select(DesiredStateRecord).where(col(DesiredStateRecord.gateway_id).in_(list(assignments)))
    records = {r.gateway_id: r for r in session.exec(query).all()}
    states = desired_states(assignments, {gw: r.seq for gw, r in records.items()}, now, rollout_id)
    for gateway, state in states.items():
        record = records.get(gateway) or DesiredStateRecord(gateway_id=gateway, seq=state.seq, payload={},
                                                            updated_at_ms=now)
        record.seq, record.rollout_id, record.updated_at_ms, record.published = state.seq, rollout_id, now, False
        record.payload = state.model_dump(mode="json", by_alias=True)
        session.add(record)
    return list(states.values())


def _gate_records(rollout_id: str, actions: Sequence[machine.Action], now: int) -> list[RolloutGateRecord]:
    return [
        RolloutGateRecord(
            rollout_id=rollout_id, ts_ms=now, phase=a.phase.value, stage=a.stage, outcome=a.outcome,
            actor=a.actor[:64], results=results_json(a.results),
        )
        for a in actions
        if isinstance(a, RecordGate)
    ]
