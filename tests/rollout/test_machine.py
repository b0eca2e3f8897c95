"""The rollout state machine: scripted scenarios and hypothesis invariants over random event sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.messages import ModelRef
from hub._errors import Conflict
from hub.rollout.gates import GateReport, GateResult
from hub.rollout.machine import (
    TERMINAL,
    Abort,
    Action,
    Assign,
    AuditEntry,
    Event,
    Pause,
    Phase,
    Promote,
    RecordGate,
    Resume,
    Rollout,
    Start,
    Tick,
    Timing,
    new_rollout,
    step,
)
from hub.rollout.planner import Assignment, GatewayInfo, rollback_assignment

OLD = ModelRef(name="pump", version="1.0.0")
NEW = ModelRef(name="pump", version="1.1.0")
FLEET = [GatewayInfo(gateway=f"{s}-{i}", site=s) for s in ("paris", "lyon", "toulouse") for i in (1, 2)]
GREEN = ("lyon-1", "paris-1", "toulouse-1")
BLUE = ("lyon-2", "paris-2", "toulouse-2")
TIMING = Timing(bake_ms=1_000, deadline_ms=5_000, rollback_deadline_ms=5_000)

PASS = GateReport((GateResult("converged", "pass"), GateResult("no_failures", "pass", hard=True)))
PENDING = GateReport((GateResult("converged", "pending", "waiting for lyon-1"), GateResult("no_failures", "pass")))
SOFT_FAIL = GateReport((*PASS.results, GateResult("ml_quality", "fail", "over-alarming")))
HARD_FAIL = GateReport((GateResult("converged", "pending"), GateResult("no_failures", "fail", "bad sig", hard=True)))


def _rollout(**kw) -> Rollout:
    previous = {g.gateway: OLD for g in FLEET}
    return new_rollout("r1", NEW, FLEET, previous, TIMING, **kw)


def _assigns(actions: tuple[Action, ...]) -> list[dict[str, Assignment]]:
    return [a.assignments for a in actions if isinstance(a, Assign)]


def _run(rollout: Rollout, *events: Event) -> tuple[Rollout, list[Action]]:
    actions: list[Action] = []
    for event in events:
        result = step(rollout, event)
        rollout = result.rollout
        actions.extend(result.actions)
    return rollout, actions


def test_happy_path_shadow_then_active_then_blue() -> None:
    r = _rollout()
    assert r.cohorts.green == GREEN and r.phase is Phase.CREATED
    s = step(r, Start(0, "alice"))
    assert s.rollout.phase is Phase.GREEN_ROLLING and s.rollout.stage == "shadow"
    assert _assigns(s.actions) == [{g: Assignment(active=OLD, shadow=NEW) for g in GREEN}]
    r, _ = _run(s.rollout, Tick(10, PENDING), Tick(20, PASS))
    assert r.phase is Phase.GREEN_BAKING and r.since_ms == 20
    r, acts = _run(r, Tick(500, PASS))
    assert r.phase is Phase.GREEN_BAKING and not acts  # bake not over
    s = step(r, Tick(1_020, PASS))
    assert s.rollout.phase is Phase.GREEN_ROLLING and s.rollout.stage == "active"
    assert isinstance(s.actions[0], RecordGate) and s.actions[0].outcome == "passed"
    assert _assigns(s.actions) == [{g: Assignment(active=NEW) for g in GREEN}]
    r, _ = _run(s.rollout, Tick(1_100, PASS))
    s = step(r, Tick(2_100, PASS))
    assert s.rollout.phase is Phase.BLUE_ROLLING and s.rollout.green_passed
    assert _assigns(s.actions) == [{g: Assignment(active=NEW) for g in BLUE}]
    r, acts = _run(s.rollout, Tick(2_200, PASS), Tick(3_200, PASS))
    assert r.phase is Phase.COMPLETED and r.changed == frozenset(GREEN + BLUE)
    completed = [a for a in acts if isinstance(a, AuditEntry) and a.action == "rollout.completed"]
    assert len(completed) == 1 and completed[0].detail["phase_since_ms"] == "3200"  # the step's time


def test_without_shadow_stage_green_goes_active_at_once() -> None:
    s = step(_rollout(shadow_stage=False), Start(0, "alice"))
    assert s.rollout.stage == "active"
    assert _assigns(s.actions) == [{g: Assignment(active=NEW) for g in GREEN}]


def test_ml_gate_failure_at_green_rolls_back_green_only() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(10, PASS))
    s = step(r, Tick(1_010, SOFT_FAIL))
    assert s.rollout.phase is Phase.ROLLING_BACK and "ml_quality" in s.rollout.reason
    record = s.actions[0]
    assert isinstance(record, RecordGate) and record.outcome == "failed" and record.results[0].name == "ml_quality"
    assert _assigns(s.actions) == [{g: rollback_assignment(OLD) for g in GREEN}]
    r, acts = _run(s.rollout, Tick(1_100, PENDING), Tick(1_200, PASS))
    assert r.phase is Phase.ROLLED_BACK and not _assigns(tuple(acts))


def test_hard_failure_while_rolling_rolls_back_at_once() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"))
    s = step(r, Tick(5, HARD_FAIL))
    assert s.rollout.phase is Phase.ROLLING_BACK and "bad sig" in s.rollout.reason


def test_convergence_deadline() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(5_000, PENDING))
    assert r.phase is Phase.GREEN_ROLLING
    s = step(r, Tick(5_001, PENDING))
    assert s.rollout.phase is Phase.ROLLING_BACK and "deadline" in s.rollout.reason


def test_rollback_deadline_records_unconfirmed_gateways() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Abort(10, "bob"))
    assert r.phase is Phase.ROLLING_BACK and "bob" in r.reason
    s = step(r, Tick(5_011, PENDING))
    assert s.rollout.phase is Phase.ROLLED_BACK
    audit = s.actions[-1]
    assert isinstance(audit, AuditEntry) and "lyon-1" in audit.detail["unconfirmed"]


def test_abort_before_start_changes_nothing() -> None:
    s = step(_rollout(), Abort(0, "bob"))
    assert s.rollout.phase is Phase.ROLLED_BACK and not _assigns(s.actions)


def test_pause_and_resume_do_not_count_paused_time() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(100, PASS), Pause(200, "bob"))
    assert r.phase is Phase.PAUSED and r.paused_from is Phase.GREEN_BAKING
    r, acts = _run(r, Tick(10_000, SOFT_FAIL))
    assert r.phase is Phase.PAUSED and not acts  # nothing happens while paused
    r, _ = _run(r, Resume(10_200, "bob"))
    assert r.phase is Phase.GREEN_BAKING and r.since_ms == 10_100
    r, _ = _run(r, Tick(11_099, PASS))
    assert r.phase is Phase.GREEN_BAKING
    r, _ = _run(r, Tick(11_100, PASS))
    assert r.phase is Phase.GREEN_ROLLING and r.stage == "active"


def test_invalid_commands_are_conflicts() -> None:
    r = _rollout()
    with pytest.raises(Conflict):
        step(r, Resume(0, "bob"))
    with pytest.raises(Conflict):
        step(r, Promote(0, "bob", force=True))
    r, _ = _run(r, Start(0, "alice"))
    with pytest.raises(Conflict):
        step(r, Start(1, "alice"))
    r, _ = _run(r, Abort(2, "bob"))
    with pytest.raises(Conflict, match="cannot be paused"):
        step(r, Pause(3, "bob"))
    with pytest.raises(Conflict, match="already rolling back"):
        step(r, Abort(3, "bob"))


def test_promote_needs_passing_gates_unless_forced() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(10, PASS))
    with pytest.raises(Conflict, match="--force"):
        step(r, Promote(20, "bob", gates=SOFT_FAIL))
    s = step(r, Promote(20, "bob", gates=PASS))  # skips the rest of the bake
    assert s.rollout.stage == "active" and s.rollout.phase is Phase.GREEN_ROLLING
    s = step(r, Promote(20, "root", force=True, gates=SOFT_FAIL))
    record = s.actions[0]
    assert isinstance(record, RecordGate) and record.outcome == "forced" and record.actor == "root"


def test_hold_policy_pauses_on_soft_failure_then_force() -> None:
    r, _ = _run(_rollout(on_gate_failure="hold"), Start(0, "alice"), Tick(10, PASS))
    r, _ = _run(r, Tick(1_010, SOFT_FAIL))
    assert r.phase is Phase.PAUSED and r.paused_from is Phase.GREEN_BAKING and "ml_quality" in r.reason
    s = step(r, Promote(2_000, "root", force=True, gates=SOFT_FAIL))
    assert s.rollout.phase is Phase.GREEN_ROLLING and s.rollout.stage == "active"
    r, _ = _run(_rollout(on_gate_failure="hold"), Start(0, "alice"), Tick(5, HARD_FAIL))
    assert r.phase is Phase.ROLLING_BACK  # hard failures never hold


def test_terminal_states_are_terminal() -> None:
    r, _ = _run(_rollout(), Abort(0, "bob"))
    assert step(r, Tick(1, PASS)).actions == ()
    for event in (Start(1, "a"), Pause(1, "a"), Resume(1, "a"), Abort(1, "a"), Promote(1, "a", force=True)):
        with pytest.raises(Conflict):
            step(r, event)


def test_record_round_trips_as_json() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(10, PASS), Pause(20, "bob"))
    again = Rollout.model_validate_json(r.model_dump_json())
    assert again == r and again.expected() == r.expected()


def test_gateways_without_a_model_get_the_new_one_active_and_roll_back_to_nothing() -> None:
    previous: dict[str, ModelRef | None] = {g.gateway: OLD for g in FLEET}
    previous["lyon-1"] = None
    r = new_rollout("r2", NEW, FLEET, previous, TIMING)
    s = step(r, Start(0, "alice"))
    assert _assigns(s.actions)[0]["lyon-1"] == Assignment(active=NEW)
    s = step(s.rollout, Abort(1, "bob"))
    assert _assigns(s.actions)[0]["lyon-1"] == Assignment(active=None, allow_downgrade=True)


def test_first_rollout_has_no_shadow_stage() -> None:
    nothing: dict[str, ModelRef | None] = {g.gateway: None for g in FLEET}
    r = new_rollout("r0", NEW, FLEET, nothing, TIMING)
    assert not r.shadow_stage
    s = step(r, Start(0, "alice"))
    assert _assigns(s.actions) == [{g: Assignment(active=NEW) for g in GREEN}]


# --- invariants over random event sequences -------------------------------------------------------

# Mostly passing reports, so that random runs also reach blue and completion.
REPORTS = st.sampled_from([PASS] * 8 + [PENDING, PENDING, SOFT_FAIL, HARD_FAIL, GateReport()])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Rollout, list[Event]]:
    shadow = draw(st.booleans())
    hold: Literal["rollback", "hold"] = draw(st.sampled_from(["rollback", "hold"]))
    no_model = draw(st.sets(st.sampled_from([g.gateway for g in FLEET])))
    previous = {g.gateway: (None if g.gateway in no_model else OLD) for g in FLEET}
    rollout = new_rollout("r", NEW, FLEET, previous, TIMING, shadow_stage=shadow, on_gate_failure=hold)
    now = 0
    events: list[Event] = []
    for kind in draw(st.lists(st.sampled_from("ttttttttttspraf"), max_size=50)):
        now += draw(st.integers(min_value=0, max_value=3_000))
        if kind == "t":
            events.append(Tick(now, draw(REPORTS)))
        elif kind == "s":
            events.append(Start(now, "op"))
        elif kind == "p":
            events.append(Pause(now, "op"))
        elif kind == "r":
            events.append(Resume(now, "op"))
        elif kind == "a":
            events.append(Abort(now, "op"))
        else:
            events.append(Promote(now, "admin", force=draw(st.booleans()), gates=draw(REPORTS)))
    return rollout, events if draw(st.integers(0, 4)) == 0 else [Start(0, "op"), *events]


@dataclass
class Tracker:
    """Replays actions the way the controller would and checks them as they come."""

    rollout: Rollout
    green_gate_passed: bool = False
    shadow_gate_passed: bool = False
    last: dict[str, Assignment] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)

    def apply(self, before: Rollout, after: Rollout, actions: tuple[Action, ...]) -> None:
        for action in actions:
            if isinstance(action, RecordGate) and action.outcome in ("passed", "forced"):
                if action.phase is Phase.GREEN_BAKING and action.stage == "active":
                    self.green_gate_passed = True
                if action.phase is Phase.GREEN_BAKING and action.stage == "shadow":
                    self.shadow_gate_passed = True
            if isinstance(action, Assign):
                self.check_assign(after, action.assignments)

    def check_assign(self, after: Rollout, assignments: dict[str, Assignment]) -> None:
        for gw, a in assignments.items():
            gives_new = NEW in (a.active, a.shadow)
            if gives_new and gw in after.cohorts.blue:
                assert self.green_gate_passed, "blue targeted before green's gates passed"
            if a.active == NEW and gw in after.cohorts.green and after.shadow_stage and after.previous[gw]:
                assert self.shadow_gate_passed, "green made active before the shadow gate passed"
            if gives_new:
                self.touched.add(gw)
            self.last[gw] = a
        if after.phase in (Phase.ROLLING_BACK, Phase.ROLLED_BACK):
            assert set(assignments) == self.touched, "rollback must cover every changed gateway"
            for gw, a in assignments.items():
                assert a == rollback_assignment(after.previous[gw])


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_invariants(scenario: tuple[Rollout, list[Event]]) -> None:
    rollout, events = scenario
    tracker = Tracker(rollout)
    for event in events:
        try:
            result = step(rollout, event)
        except Conflict:
            continue
        if rollout.phase in TERMINAL:
            assert result.rollout == rollout and result.actions == (), "terminal states are terminal"
        tracker.apply(rollout, result.rollout, result.actions)
        rollout = result.rollout
        assert (rollout.phase is Phase.PAUSED) == (rollout.paused_from is not None)
        assert tracker.touched <= rollout.changed
        if rollout.phase is Phase.ROLLED_BACK:
            for gw in tracker.touched:
                assert tracker.last[gw] == rollback_assignment(rollout.previous[gw]), f"{gw} not restored"
        if rollout.phase is Phase.COMPLETED:
            assert all(tracker.last[gw] == Assignment(active=NEW) for gw in rollout.cohorts.all())


ML_PENDING = GateReport((*PASS.results, GateResult("ml_quality", "pending", "10/60 paired readings")))
ML_PASS = GateReport((*PASS.results, GateResult("ml_quality", "pass")))


def test_after_the_bake_a_gate_short_of_evidence_is_waited_for_not_failed() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(10, PASS))
    assert r.phase is Phase.GREEN_BAKING and r.since_ms == 10
    r, acts = _run(r, Tick(1_010 + 2_000, ML_PENDING))  # bake over, ML gate still gathering pairs
    assert r.phase is Phase.GREEN_BAKING and not acts
    s = step(r, Tick(1_010 + 3_000, ML_PASS))
    assert s.rollout.phase is Phase.GREEN_ROLLING and s.rollout.stage == "active"


def test_a_gate_still_short_of_evidence_at_the_deadline_fails() -> None:
    r, _ = _run(_rollout(), Start(0, "alice"), Tick(10, PASS))
    s = step(r, Tick(10 + TIMING.bake_ms + TIMING.deadline_ms, ML_PENDING))
    assert s.rollout.phase is Phase.ROLLING_BACK
    assert any(isinstance(a, RecordGate) and a.outcome == "failed" for a in s.actions)


def test_a_zero_bake_advances_as_soon_as_every_gate_passes() -> None:
    zero = Timing(bake_ms=0, deadline_ms=5_000, rollback_deadline_ms=5_000)
    r = new_rollout("r0", NEW, FLEET, {g.gateway: OLD for g in FLEET}, zero)
    r, _ = _run(r, Start(0, "alice"), Tick(10, PASS))
    r, acts = _run(r, Tick(11, ML_PENDING))
    assert r.phase is Phase.GREEN_BAKING and not acts
    assert step(r, Tick(12, ML_PASS)).rollout.phase is Phase.GREEN_ROLLING


def test_a_fleet_with_no_blue_gateway_completes_after_green() -> None:
    """Every gateway a canary (one per site here): nothing is left to roll, so green's pass completes it."""
    one_per_site = [g for g in FLEET if g.gateway.endswith("-1")]
    r = new_rollout("r1", NEW, one_per_site, {g.gateway: OLD for g in one_per_site}, TIMING, shadow_stage=False)
    assert r.cohorts.blue == ()
    r, _ = _run(r, Start(0, "alice"), Tick(10, PASS))
    s = step(r, Tick(1_010, PASS))
    assert s.rollout.phase is Phase.COMPLETED and s.rollout.green_passed
    assert not _assigns(s.actions)
    assert any(isinstance(a, AuditEntry) and a.action == "rollout.completed" for a in s.actions)


def test_a_fleet_with_no_green_gateway_is_refused() -> None:
    all_blue = [GatewayInfo(gateway=g.gateway, site=g.site, cohort="blue") for g in FLEET]
    with pytest.raises(Conflict, match="no green gateway"):
        new_rollout("r1", NEW, all_blue, {g.gateway: OLD for g in all_blue}, TIMING)
