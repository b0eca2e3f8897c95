"""Cohort planning and desired-state generation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.messages import ModelRef
from hub._errors import Conflict
from hub.rollout.planner import (
    Assignment,
    GatewayInfo,
    desired_state,
    desired_states,
    next_seq,
    plan_cohorts,
    rollback_assignment,
    shadow_assignment,
)

OLD = ModelRef(name="pump", version="1.0.0")
NEW = ModelRef(name="pump", version="1.1.0")


def _fleet() -> list[GatewayInfo]:
    return [GatewayInfo(gateway=f"{site}-{i}", site=site) for site in ("paris", "lyon", "toulouse") for i in (2, 1)]


def test_one_green_per_site_by_default_smallest_id_first() -> None:
    cohorts = plan_cohorts(_fleet())
    assert cohorts.green == ("lyon-1", "paris-1", "toulouse-1")
    assert cohorts.blue == ("lyon-2", "paris-2", "toulouse-2")


def test_explicit_cohorts_are_kept() -> None:
    fleet = [
        GatewayInfo(gateway="a-1", site="a", cohort="blue"),
        GatewayInfo(gateway="a-2", site="a", cohort="green"),
        GatewayInfo(gateway="a-3", site="a"),
        GatewayInfo(gateway="b-1", site="b", cohort="blue"),
    ]
    cohorts = plan_cohorts(fleet)
    assert cohorts.green == ("a-2",)
    assert cohorts.blue == ("a-1", "a-3", "b-1")


def test_min_green_per_site() -> None:
    cohorts = plan_cohorts(_fleet(), min_green_per_site=2)
    assert len(cohorts.green) == 6 and cohorts.blue == ()


def test_duplicates_and_empty_fleets_are_refused() -> None:
    with pytest.raises(Conflict, match="twice"):
        plan_cohorts([GatewayInfo(gateway="g", site="a"), GatewayInfo(gateway="g", site="b")])
    with pytest.raises(Conflict, match="no gateways"):
        plan_cohorts([])


@given(
    st.lists(
        st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from([None, "green", "blue"])), max_size=30
    ).filter(bool),
    st.integers(min_value=0, max_value=3),
)
def test_every_gateway_is_in_exactly_one_cohort(rows: list[tuple[str, str | None]], min_green: int) -> None:
    fleet = [GatewayInfo(gateway=f"g{i}", site=site, cohort=cohort) for i, (site, cohort) in enumerate(rows)]
    cohorts = plan_cohorts(fleet, min_green)
    assert sorted(cohorts.all()) == sorted(g.gateway for g in fleet)
    assert not set(cohorts.green) & set(cohorts.blue)
    for site in {g.site for g in fleet}:
        members = [g for g in fleet if g.site == site]
        choosable = [g for g in members if g.cohort != "blue"]
        greens = [g for g in members if g.gateway in cohorts.green]
        assert len(greens) >= min(min_green, len(choosable))


def test_assignments() -> None:
    assert shadow_assignment(OLD, NEW) == Assignment(active=OLD, shadow=NEW)
    assert shadow_assignment(None, NEW) == Assignment(active=NEW)
    assert rollback_assignment(OLD) == Assignment(active=OLD, shadow=None, allow_downgrade=True)


def test_desired_state_sequences_increase_per_gateway() -> None:
    first = desired_state("g1", Assignment(active=NEW), None, 1_000, "r1")
    assert first.seq == 1_000 and first.active == NEW and first.rollout_id == "r1"
    again = desired_state("g1", rollback_assignment(OLD), first.seq, 1_000, "r1")
    assert again.seq == 1_001 and again.allow_downgrade and again.active == OLD
    assert next_seq(5_000, 10) == 5_001
    states = desired_states({"b": Assignment(active=NEW), "a": Assignment(active=NEW)}, {"a": 7}, 3, None)
    assert list(states) == ["a", "b"] and states["a"].seq == 8 and states["b"].seq == 3
