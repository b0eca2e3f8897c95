"""The rollout state machine (ARCHITECTURE section 6) as pure code: `step(rollout, event) -> Step`.

    created -> green_rolling -> green_baking -> blue_rolling -> blue_baking -> completed
    any active phase -> paused (operator) -> resume to where it was
    any non-terminal phase -> rolling_back -> rolled_back (gate failure or abort)

Green runs in two stages when the ML-quality gate is on: `shadow` (the new model scores in the shadow
slot next to the current one, so an over-alarming model raises no alarm) then `active`. Each stage is
rolled (desired states written, wait until every target reports them) then baked (gates judged at the
end of the bake; hard failures end it at once). Blue only ever receives the new version after green's
last gate passed (or an admin forced it).

Time only enters through events (`now_ms`), gate verdicts through `GateReport`s computed by the caller
from agent reports (see `hub.rollout.gates`). The output is the new rollout record and the actions the
controller must carry out: write desired states, record a gate result, append an audit entry.
Operator commands that make no sense in the current phase raise `Conflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.messages import ModelRef
from hub._errors import Conflict
from hub.rollout.gates import CONVERGED, GateReport, GateResult
from hub.rollout.planner import (
    Assignment,
    Cohorts,
    GatewayInfo,
    Wave,
    active_assignment,
    plan_cohorts,
    rollback_assignment,
    shadow_assignment,
)


class Phase(StrEnum):
    CREATED = "created"
    GREEN_ROLLING = "green_rolling"
    GREEN_BAKING = "green_baking"
    BLUE_ROLLING = "blue_rolling"
    BLUE_BAKING = "blue_baking"
    COMPLETED = "completed"
    PAUSED = "paused"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"


Stage = Literal["shadow", "active"]
GateOutcome = Literal["passed", "failed", "forced"]

TERMINAL = frozenset({Phase.COMPLETED, Phase.ROLLED_BACK})
ROLLING = frozenset({Phase.GREEN_ROLLING, Phase.BLUE_ROLLING})
BAKING = frozenset({Phase.GREEN_BAKING, Phase.BLUE_BAKING})
PAUSABLE = frozenset({Phase.CREATED}) | ROLLING | BAKING
_BAKE_OF = {Phase.GREEN_ROLLING: Phase.GREEN_BAKING, Phase.BLUE_ROLLING: Phase.BLUE_BAKING}


class Timing(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bake_ms: int = Field(ge=0)
    deadline_ms: int = Field(ge=0)
    """Time the targets of a rolling step have to report the assigned models."""
    rollback_deadline_ms: int = Field(ge=0)
    """After this, a rollback is recorded as done even if some gateway has not confirmed it (the retained
    desired state still brings it back when it reconnects)."""


class Rollout(BaseModel):
    """The persisted record of one rollout; every field is plain data so the controller can store it as JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout_id: str
    model: ModelRef
    previous: dict[str, ModelRef | None]
    """The model each targeted gateway had active when the rollout was created."""
    cohorts: Cohorts
    timing: Timing
    shadow_stage: bool = True
    on_gate_failure: Literal["rollback", "hold"] = "rollback"
    phase: Phase = Phase.CREATED
    stage: Stage | None = None
    since_ms: int = 0
    """When the current phase (rolling: desired states written; baking: bake started) began."""
    paused_from: Phase | None = None
    paused_at_ms: int | None = None
    changed: frozenset[str] = frozenset()
    """Gateways that were sent the new version (in any slot): the ones a rollback must restore."""
    green_passed: bool = False
    reason: str = ""

    @property
    def effective_phase(self) -> Phase:
        """The phase whose targets and gates apply (the phase a paused rollout was paused in)."""
        return self.paused_from if self.phase is Phase.PAUSED and self.paused_from else self.phase

    def wave(self) -> Wave | None:
        phase = self.effective_phase
        if phase in (Phase.GREEN_ROLLING, Phase.GREEN_BAKING):
            return "green"
        if phase in (Phase.BLUE_ROLLING, Phase.BLUE_BAKING):
            return "blue"
        return None

    def expected(self) -> dict[str, Assignment]:
        """What each gateway targeted by the current step should report."""
        if self.effective_phase is Phase.ROLLING_BACK:
            return _rollback_assignments(self)
        wave = self.wave()
        if wave is None:
            return {}
        return {gw: _assignment(self, gw) for gw in self.cohorts.wave(wave)}


@dataclass(frozen=True, slots=True)
class Start:
    now_ms: int
    actor: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed and/or reports arrived: `gates` is the evaluation of the current step's targets."""

    now_ms: int
    gates: GateReport = field(default_factory=GateReport)


@dataclass(frozen=True, slots=True)
class Pause:
    now_ms: int
    actor: str


@dataclass(frozen=True, slots=True)
class Resume:
    now_ms: int
    actor: str


@dataclass(frozen=True, slots=True)
class Abort:
    now_ms: int
    actor: str
    reason: str = "aborted by operator"


@dataclass(frozen=True, slots=True)
class Promote:
    """Advance past the current step now. Without `force` the gates must all pass; `force` (admin) skips them."""

    now_ms: int
    actor: str
    force: bool = False
    gates: GateReport = field(default_factory=GateReport)


Event = Start | Tick | Pause | Resume | Abort | Promote


@dataclass(frozen=True, slots=True)
class Assign:
    """Write (retained) desired states: one assignment per gateway."""

    assignments: dict[str, Assignment]


@dataclass(frozen=True, slots=True)
class RecordGate:
    phase: Phase
    stage: Stage | None
    outcome: GateOutcome
    results: tuple[GateResult, ...]
    actor: str = "controller"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    actor: str
    detail: dict[str, str] = field(default_factory=dict)


Action = Assign | RecordGate | AuditEntry


@dataclass(frozen=True, slots=True)
class Step:
    rollout: Rollout
    actions: tuple[Action, ...] = ()


def new_rollout(
    rollout_id: str,
    model: ModelRef,
    gateways: Iterable[GatewayInfo],
    previous: Mapping[str, ModelRef | None],
    timing: Timing,
    *,
    shadow_stage: bool = True,
    on_gate_failure: Literal["rollback", "hold"] = "rollback",
    min_green_per_site: int = 1,
) -> Rollout:
    """A rollout in `created`, with its cohorts planned; `previous` is what each gateway runs now.

    The shadow stage needs something to compare with: it is skipped when no green gateway runs a model yet.
    """
    cohorts = plan_cohorts(gateways, min_green_per_site)
    if not cohorts.green:
        raise Conflict("no green gateway to start with: set at least one gateway's cohort to green")
    comparable = any(previous.get(gw) is not None for gw in cohorts.green)
    return Rollout(
        rollout_id=rollout_id,
        model=model,
        previous={gw: previous.get(gw) for gw in cohorts.all()},
        cohorts=cohorts,
        timing=timing,
        shadow_stage=shadow_stage and comparable,
        on_gate_failure=on_gate_failure,
    )


def step(rollout: Rollout, event: Event) -> Step:
    """Apply one event. Terminal rollouts ignore ticks and refuse commands."""
    if rollout.phase in TERMINAL:
        if isinstance(event, Tick):
            return Step(rollout)
        raise Conflict(f"rollout {rollout.rollout_id} is {rollout.phase.value}: nothing more can happen to it")
    if isinstance(event, Start):
        return _start(rollout, event)
    if isinstance(event, Tick):
        return _tick(rollout, event)
    if isinstance(event, Pause):
        return _pause(rollout, event)
    if isinstance(event, Resume):
        return _resume(rollout, event)
    if isinstance(event, Abort):
        return _abort(rollout, event)
    return _promote(rollout, event)


def _assignment(rollout: Rollout, gateway: str) -> Assignment:
    if rollout.wave() == "green" and rollout.stage == "shadow":
        return shadow_assignment(rollout.previous.get(gateway), rollout.model)
    return active_assignment(rollout.model)


def _rollback_assignments(rollout: Rollout) -> dict[str, Assignment]:
    return {gw: rollback_assignment(rollout.previous.get(gw)) for gw in sorted(rollout.changed)}


def _audit(rollout: Rollout, actor: str, **detail: str) -> AuditEntry:
    """`phase_since_ms` is the controller's time of the step: the entry's own timestamp is taken when the log
    appends it, which can lag behind under load (every HTTP request is an entry too)."""
    base = {"rollout_id": rollout.rollout_id, "model": rollout.model.name, "version": rollout.model.version,
            "phase_since_ms": str(rollout.since_ms)}
    stage = {"stage": rollout.stage} if rollout.stage else {}
    return AuditEntry(f"rollout.{rollout.phase.value}", actor, {**base, **stage, **detail})


def _enter_rolling(rollout: Rollout, phase: Phase, stage: Stage | None, now_ms: int, actor: str) -> Step:
    """Write the step's desired states and start waiting for the targets to report them."""
    entered = rollout.model_copy(update={"phase": phase, "stage": stage, "since_ms": now_ms, "reason": ""})
    assignments = entered.expected()
    entered = entered.model_copy(update={"changed": rollout.changed | frozenset(assignments)})
    return Step(entered, (Assign(assignments), _audit(entered, actor, targets=",".join(sorted(assignments)))))


def _start(rollout: Rollout, event: Start) -> Step:
    if rollout.phase is not Phase.CREATED:
        raise Conflict(f"rollout {rollout.rollout_id} has already started ({rollout.phase.value})")
    stage: Stage = "shadow" if rollout.shadow_stage else "active"
    return _enter_rolling(rollout, Phase.GREEN_ROLLING, stage, event.now_ms, event.actor)


def _tick(rollout: Rollout, event: Tick) -> Step:
    if rollout.phase in ROLLING:
        return _tick_rolling(rollout, event)
    if rollout.phase in BAKING:
        return _tick_baking(rollout, event)
    if rollout.phase is Phase.ROLLING_BACK:
        return _tick_rolling_back(rollout, event)
    return Step(rollout)  # created or paused: waiting for an operator


def _tick_rolling(rollout: Rollout, event: Tick) -> Step:
    gates = event.gates
    if gates.hard_failures:
        return _fail(rollout, event.now_ms, gates.hard_failures, "controller", hold_allowed=False)
    if gates.converged:
        return _enter_baking(rollout, event.now_ms, "controller")
    if event.now_ms - rollout.since_ms > rollout.timing.deadline_ms:
        late = gates.get(CONVERGED) or GateResult(CONVERGED, "pending", "no report")
        timed_out = GateResult(CONVERGED, "fail", f"deadline passed: {late.detail}", hard=True)
        return _fail(rollout, event.now_ms, (timed_out,), "controller", hold_allowed=False)
    return Step(rollout)


def _enter_baking(rollout: Rollout, now_ms: int, actor: str) -> Step:
    baking = rollout.model_copy(update={"phase": _BAKE_OF[rollout.phase], "since_ms": now_ms})
    return Step(baking, (_audit(baking, actor),))


def _tick_baking(rollout: Rollout, event: Tick) -> Step:
    gates = event.gates
    if gates.hard_failures:
        return _fail(rollout, event.now_ms, gates.hard_failures, "controller", hold_allowed=False)
    baked_ms = event.now_ms - rollout.since_ms
    if baked_ms < rollout.timing.bake_ms:
        return Step(rollout)
    if gates.all_passed:
        return _advance(rollout, event.now_ms, "controller", "passed", gates.results)
    failed = any(r.status == "fail" for r in gates.results)
    if failed or baked_ms >= rollout.timing.bake_ms + rollout.timing.deadline_ms:
        return _fail(rollout, event.now_ms, gates.not_passed, "controller", hold_allowed=True)
    # The bake time is a minimum: gates still short of evidence (pending) are judged when they have it, or fail
    # at the deadline. So a 0 s bake advances as soon as every gate can pass, never on no evidence.
    return Step(rollout)


def _advance(
    rollout: Rollout, now_ms: int, actor: str, outcome: GateOutcome, results: tuple[GateResult, ...]
) -> Step:
    """The gates of the current baking step passed (or were forced): go to the next step."""
    record = RecordGate(rollout.phase, rollout.stage, outcome, results, actor)
    if rollout.phase is Phase.GREEN_BAKING and rollout.stage == "shadow":
        nxt = _enter_rolling(rollout, Phase.GREEN_ROLLING, "active", now_ms, actor)
    elif rollout.phase is Phase.GREEN_BAKING and rollout.cohorts.blue:
        passed = rollout.model_copy(update={"green_passed": True})
        nxt = _enter_rolling(passed, Phase.BLUE_ROLLING, None, now_ms, actor)
    else:  # blue baked, or green baked and there is no blue gateway (every gateway was a canary)
        done = rollout.model_copy(update={"phase": Phase.COMPLETED, "stage": None, "since_ms": now_ms,
                                          "green_passed": True})
        nxt = Step(done, (_audit(done, actor),))
    return Step(nxt.rollout, (record, *nxt.actions))


def _fail(
    rollout: Rollout, now_ms: int, failed: tuple[GateResult, ...], actor: str, hold_allowed: bool
) -> Step:
    reason = "gate failed: " + "; ".join(f"{r.name} ({r.detail})" if r.detail else r.name for r in failed)
    record = RecordGate(rollout.phase, rollout.stage, "failed", failed, actor)
    if hold_allowed and rollout.on_gate_failure == "hold":
        held = rollout.model_copy(
            update={"phase": Phase.PAUSED, "paused_from": rollout.phase, "paused_at_ms": now_ms, "reason": reason}
        )
        return Step(held, (record, _audit(held, actor, reason=reason)))
    nxt = _rollback(rollout, now_ms, actor, reason)
    return Step(nxt.rollout, (record, *nxt.actions))


def _rollback(rollout: Rollout, now_ms: int, actor: str, reason: str) -> Step:
    assignments = _rollback_assignments(rollout)
    phase = Phase.ROLLING_BACK if assignments else Phase.ROLLED_BACK
    update = {"phase": phase, "stage": None, "since_ms": now_ms, "paused_from": None, "paused_at_ms": None}
    back = rollout.model_copy(update={**update, "reason": reason})
    audit = _audit(back, actor, reason=reason, targets=",".join(sorted(assignments)))
    return Step(back, (Assign(assignments), audit) if assignments else (audit,))


def _tick_rolling_back(rollout: Rollout, event: Tick) -> Step:
    if event.gates.converged:
        done = rollout.model_copy(update={"phase": Phase.ROLLED_BACK, "since_ms": event.now_ms})
        return Step(done, (_audit(done, "controller", reason=rollout.reason),))
    if event.now_ms - rollout.since_ms > rollout.timing.rollback_deadline_ms:
        late = event.gates.get(CONVERGED)
        unconfirmed = late.detail if late else "no report"
        done = rollout.model_copy(update={"phase": Phase.ROLLED_BACK, "since_ms": event.now_ms})
        return Step(done, (_audit(done, "controller", reason=rollout.reason, unconfirmed=unconfirmed),))
    return Step(rollout)


def _pause(rollout: Rollout, event: Pause) -> Step:
    if rollout.phase not in PAUSABLE:
        raise Conflict(f"rollout {rollout.rollout_id} is {rollout.phase.value} and cannot be paused")
    paused = rollout.model_copy(
        update={"phase": Phase.PAUSED, "paused_from": rollout.phase, "paused_at_ms": event.now_ms, "reason": ""}
    )
    return Step(paused, (_audit(paused, event.actor, paused_from=rollout.phase.value),))


def _resume(rollout: Rollout, event: Resume) -> Step:
    """Back to the paused phase; the time spent paused does not count towards the bake or the deadline."""
    if rollout.phase is not Phase.PAUSED or rollout.paused_from is None:
        raise Conflict(f"rollout {rollout.rollout_id} is {rollout.phase.value}, not paused")
    paused_for = max(event.now_ms - (rollout.paused_at_ms or event.now_ms), 0)
    resumed = rollout.model_copy(
        update={
            "phase": rollout.paused_from,
            "paused_from": None,
            "paused_at_ms": None,
            "since_ms": rollout.since_ms + paused_for,
            "reason": "",
        }
    )
    return Step(resumed, (_audit(resumed, event.actor, resumed="true"),))


def _abort(rollout: Rollout, event: Abort) -> Step:
    if rollout.phase is Phase.ROLLING_BACK:
        raise Conflict(f"rollout {rollout.rollout_id} is already rolling back")
    return _rollback(rollout, event.now_ms, event.actor, f"{event.reason} ({event.actor})")


def _promote(rollout: Rollout, event: Promote) -> Step:
    phase = rollout.effective_phase
    if phase not in ROLLING | BAKING:
        raise Conflict(f"rollout {rollout.rollout_id} is {rollout.phase.value}: there is no step to promote")
    if not event.force and not event.gates.all_passed:
        raise Conflict(f"gates do not pass ({event.gates.summary() or 'no report'}); use --force to skip them")
    current = _unpaused(rollout, event.now_ms)
    outcome: GateOutcome = "forced" if event.force and not event.gates.all_passed else "passed"
    if phase in ROLLING:
        baking = _enter_baking(current, event.now_ms, event.actor)
        record = RecordGate(phase, current.stage, outcome, event.gates.results, event.actor)
        return Step(baking.rollout, (record, *baking.actions))
    return _advance(current, event.now_ms, event.actor, outcome, event.gates.results)


def _unpaused(rollout: Rollout, now_ms: int) -> Rollout:
    if rollout.phase is not Phase.PAUSED or rollout.paused_from is None:
        return rollout
    return rollout.model_copy(
        update={"phase": rollout.paused_from, "paused_from": None, "paused_at_ms": None, "since_ms": now_ms}
    )
