"""Model version policy (pure logic): what a desired state may make the agent load.

- a higher version of the active model's name: allowed (upgrade);
- the same version: nothing to do;
- a lower version: refused (`downgrade`) unless the desired state says `allow_downgrade` (the hub's
  rollback) AND it is exactly the version kept in the `previous` slot;
- a model of another name: allowed (the hub assigns models; the signature proves their origin).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from contracts.messages import ModelRef

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$")

Verdict = Literal["load", "noop", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""


def semver_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key following semver precedence: a pre-release sorts before its release."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise ValueError(f"not a semantic version: {version!r}")
    major, minor, patch, pre = match.groups()
    if pre is None:
        return int(major), int(minor), int(patch), 1, ()
    ids = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(major), int(minor), int(patch), 0, ids


def decide(
    candidate: ModelRef, active: ModelRef | None, previous: ModelRef | None, allow_downgrade: bool
) -> Decision:
    """Whether `candidate` may become the active model."""
    if active is None or candidate.name != active.name:
        return Decision("load")
    order = _compare(candidate.version, active.version)
    if order == 0:
        return Decision("noop")
    if order > 0:
        return Decision("load")
    if not allow_downgrade:
        return Decision("reject", f"downgrade from {active.version} to {candidate.version} is not allowed")
    if previous is None or previous != candidate:
        return Decision("reject", f"downgrade allowed only to the previous version, not {candidate.version}")
    return Decision("load")


def decide_shadow(candidate: ModelRef, active: ModelRef | None) -> Decision:
    """A shadow model never replaces the active one, so any version may shadow; but not the active itself."""
    if active is not None and candidate == active:
        return Decision("noop")
    return Decision("load")


def _compare(a: str, b: str) -> int:
    ka, kb = semver_key(a), semver_key(b)
    return (ka > kb) - (ka < kb)
