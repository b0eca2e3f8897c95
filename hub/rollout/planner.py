"""Cohort planning and desired-state generation for green/blue rollouts (pure logic, no I/O).

A rollout changes what each gateway runs in three kinds of steps, each an `Assignment`:

- shadow: keep the current model active and score the new one in the shadow slot on the same readings
  (green only, so that the ML-quality gate can compare the two before the new model raises any alarm);
- active: the new model becomes active (the agent keeps the old one in its `previous` slot);
- rollback: the version that was active before the rollout becomes active again, shadow cleared,
  with `allow_downgrade` (the only case the hub allows an agent to go back to an older version).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contracts.messages import DesiredState, ModelRef
from hub._errors import Conflict

Wave = Literal["green", "blue"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GatewayInfo(_Frozen):
    """A gateway as the planner sees it; `cohort` is the operator's explicit choice, None lets the planner pick."""

    gateway: str
    site: str
    cohort: Wave | None = None


class Cohorts(_Frozen):
    green: tuple[str, ...]
    blue: tuple[str, ...]

    def wave(self, wave: Wave) -> tuple[str, ...]:
        return self.green if wave == "green" else self.blue

    def all(self) -> tuple[str, ...]:
        return self.green + self.blue


class Assignment(_Frozen):
    """What one gateway should run: the model slots of a desired state."""

    active: ModelRef | None
    shadow: ModelRef | None = None
    allow_downgrade: bool = False


def plan_cohorts(gateways: Iterable[GatewayInfo], min_green_per_site: int = 1) -> Cohorts:
    """Put every gateway in green or blue.

    Explicit cohorts are kept. In each site with fewer than `min_green_per_site` green gateways, the
    unassigned gateways with the smallest ids become green (deterministic, so a re-plan gives the same
    cohorts). A site whose gateways are all explicitly blue stays without a canary: that is the operator's call.
    """
    by_site = _group_by_site(gateways)
    if not by_site:
        raise Conflict("no gateways to roll out to")
    green: list[str] = []
    blue: list[str] = []
    for site in sorted(by_site):
        site_green, site_blue = _plan_site(by_site[site], min_green_per_site)
        green.extend(site_green)
        blue.extend(site_blue)
    return Cohorts(green=tuple(sorted(green)), blue=tuple(sorted(blue)))


def _group_by_site(gateways: Iterable[GatewayInfo]) -> dict[str, list[GatewayInfo]]:
    by_site: dict[str, list[GatewayInfo]] = defaultdict(list)
    seen: set[str] = set()
    for info in gateways:
        if info.gateway in seen:
            raise Conflict(f"gateway {info.gateway!r} is listed twice")
        seen.add(info.gateway)
        by_site[info.site].append(info)
    return by_site


def _plan_site(members: list[GatewayInfo], min_green: int) -> tuple[list[str], list[str]]:
    ordered = sorted(members, key=lambda g: g.gateway)
    green = [g.gateway for g in ordered if g.cohort == "green"]
    free = [g.gateway for g in ordered if g.cohort is None]
    while len(green) < min_green and free:
        green.append(free.pop(0))
    blue = [g.gateway for g in ordered if g.cohort == "blue"] + free
    return green, blue


def shadow_assignment(current: ModelRef | None, new: ModelRef) -> Assignment:
    """Shadow-score `new` next to `current`; a gateway that runs nothing gets `new` active (nothing to compare)."""
    if current is None:
        return Assignment(active=new)
    return Assignment(active=current, shadow=new)


def active_assignment(new: ModelRef) -> Assignment:
    return Assignment(active=new)


def rollback_assignment(previous: ModelRef | None) -> Assignment:
    return Assignment(active=previous, shadow=None, allow_downgrade=True)


def next_seq(last_seq: int | None, now_ms: int) -> int:
    """The next desired-state sequence of a gateway: above the last one, and never below the clock.

    Using the clock as a floor keeps sequences increasing even if the hub lost its record of the last one
    (a restored database), as long as the hub's clock does not go back.
    """
    return max((last_seq or 0) + 1, now_ms)


def desired_state(
    gateway: str, assignment: Assignment, last_seq: int | None, now_ms: int, rollout_id: str | None
) -> DesiredState:
    return DesiredState(
        gateway=gateway,
        seq=next_seq(last_seq, now_ms),
        issued_at=now_ms,
        active=assignment.active,
        shadow=assignment.shadow,
        allow_downgrade=assignment.allow_downgrade,
        rollout_id=rollout_id,
    )


def desired_states(
    assignments: Mapping[str, Assignment], last_seqs: Mapping[str, int], now_ms: int, rollout_id: str | None
) -> dict[str, DesiredState]:
    """One desired state per assigned gateway, in gateway order."""
    return {
        gateway: desired_state(gateway, assignments[gateway], last_seqs.get(gateway), now_ms, rollout_id)
        for gateway in sorted(assignments)
    }
