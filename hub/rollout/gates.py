"""Rollout gates (ARCHITECTURE section 6): pure functions over snapshots of agent reports.

Gates, each `pass`, `fail` or `pending` (not enough evidence yet):

- `converged`     every targeted agent reports the assigned slots (the state machine owns the deadline);
- `no_failures`   no agent rejected the desired state or failed to verify/load the new model (hard: fails
                  the rollout at once, without waiting for the end of the bake);
- `error_rate`    scoring errors / scoring attempts since the bake started <= `health.max_error_rate`;
- `latency`       each agent's score latency p99 of the new version <= `health.max_latency_ratio` x its p99
                  under the previous version (captured when the rollout started); the p99 the agent attributes
                  to that exact model once it has `health.min_latency_samples` passes (older agents: their
                  overall p99); not judged while the new model only shadows;
- `ml_quality`    shadow vs active on the same readings: the anomaly-rate change stays inside the band and
                  the decisions agree often enough (only while the new model is in the shadow slot).

The gate file (`--gates FILE`, TOML or JSON) is validated by `GateConfig`; durations are seconds or
strings such as "90s", "10m", "1h".
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError, WithJsonSchema

from contracts.messages import Reading, ReportedState
from hub._errors import ConfigError
from hub.rollout.planner import Assignment

Status = Literal["pass", "fail", "pending"]
K = TypeVar("K", bound=Hashable)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(value: object) -> int:
    """Milliseconds from a number of seconds or a string like "250ms", "90s", "10m", "1h", "2d"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '10m'")
    if isinstance(value, int | float):
        seconds = float(value)
        if seconds < 0:
            raise ValueError("a duration cannot be negative")
        return round(seconds * 1000)
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (use e.g. '90s', '10m', '1h')")
        return round(float(match.group(1)) * _UNIT_MS[match.group(2) or "s"])
    raise ValueError("a duration is a number of seconds or a string such as '10m'")


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms), Field(ge=0),
                       PlainSerializer(lambda ms: f"{ms}ms", return_type=str, when_used="json"), WithJsonSchema({
    "anyOf": [{"type": "number", "minimum": 0, "maximum": 10**9, "description": "seconds"},
              {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$", "description": "e.g. 90s, 10m"}]})]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthGates(_Config):
    max_error_rate: Fraction = 0.01
    max_latency_ratio: Annotated[float, Field(gt=0.0)] = 1.5
    min_attempts: Annotated[int, Field(ge=0)] = 1
    """Scoring attempts needed (over all targeted agents) before the error rate is judged."""
    min_latency_samples: Annotated[int, Field(ge=1)] = 20
    """Scoring passes of a model an agent must report before its own p99 is judged (or used as reference)."""


class MlGate(_Config):
    enabled: bool = True
    max_rate_increase: Fraction = 0.02
    """Largest allowed shadow anomaly rate minus active anomaly rate."""
    max_rate_decrease: Fraction = 0.05
    """Largest allowed active anomaly rate minus shadow anomaly rate."""
    min_agreement: Fraction = 0.95
    """Smallest allowed fraction of paired readings on which both models make the same decision."""
    min_pairs: Annotated[int, Field(ge=1)] = 100


class GateConfig(_Config):
    deadline: DurationMs = 300_000
    """How long targeted agents have to report the assigned version after the desired state is written."""
    rollback_deadline: DurationMs = 300_000
    on_failure: Literal["rollback", "hold"] = "rollback"
    """`hold` pauses a rollout whose soft gate failed at the end of a bake, for `abort` or `promote --force`."""
    health: HealthGates = HealthGates()
    ml: MlGate = MlGate()


def load_gate_config(path: Path) -> GateConfig:
    """Read and validate a gate file (`.toml` or `.json`); errors name the file and the field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read gate file: {exc.strerror}") from None
    try:
        document: Any = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from None
    return gate_config_from(document, source=str(path))


def gate_config_from(document: Mapping[str, Any], source: str = "gates") -> GateConfig:
    try:
        return GateConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{source}: {field}", str(first["msg"])) from None


@dataclass(frozen=True, slots=True)
class GateResult:
    name: str
    status: Status
    detail: str = ""
    hard: bool = False
    """A hard failure ends the step at once; soft gates are judged at the end of the bake."""


@dataclass(frozen=True, slots=True)
class GateReport:
    results: tuple[GateResult, ...] = ()

    def get(self, name: str) -> GateResult | None:
        return next((r for r in self.results if r.name == name), None)

    @property
    def converged(self) -> bool:
        result = self.get(CONVERGED)
        return result is not None and result.status == "pass"

    @property
    def hard_failures(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if r.hard and r.status == "fail")

    @property
    def not_passed(self) -> tuple[GateResult, ...]:
        return tuple(r for r in self.results if r.status != "pass")

    @property
    def all_passed(self) -> bool:
        return bool(self.results) and not self.not_passed

    def summary(self) -> str:
        return "; ".join(f"{r.name}={r.status}" + (f" ({r.detail})" if r.detail else "") for r in self.results)


CONVERGED = "converged"
NO_FAILURES = "no_failures"
ERROR_RATE = "error_rate"
LATENCY = "latency"
ML_QUALITY = "ml_quality"


@dataclass(frozen=True, slots=True)
class GatewayObservation:
    """What the hub knows about one targeted gateway during a step."""

    gateway: str
    expected: Assignment
    state: ReportedState | None = None
    """The latest reported state (retained `up/state`)."""
    baseline: ReportedState | None = None
    """The reported state when the bake started: counters are cumulative, the gate uses the difference."""
    desired_seq: int | None = None
    """Sequence of the desired state written for this step: its `update` outcome is a verdict on it."""
    reference_p99_us: float | None = None
    """Score latency p99 under the previous version (see `reference_p99`)."""
    failures: tuple[str, ...] = ()
    """`model_rejected` / `model_load_failed` events about the new version since the step began."""


@dataclass(frozen=True, slots=True)
class ShadowStats:
    """Paired readings (same equipment and timestamp) scored by the active and the shadow model."""

    pairs: int = 0
    active_anomalies: int = 0
    shadow_anomalies: int = 0
    agreements: int = 0

    def __add__(self, other: ShadowStats) -> ShadowStats:
        return ShadowStats(
            self.pairs + other.pairs,
            self.active_anomalies + other.active_anomalies,
            self.shadow_anomalies + other.shadow_anomalies,
            self.agreements + other.agreements,
        )


def pair_stats(readings: Iterable[Reading], shadow_version: str) -> ShadowStats:
    """Pair one gateway's active and shadow readings on (equipment, ts); unpaired readings are ignored.

    Only shadow readings of `shadow_version` count, so readings of an older shadow do not pollute the gate.
    """
    active: dict[tuple[str, int], bool] = {}
    shadow: dict[tuple[str, int], bool] = {}
    for reading in readings:
        key = (reading.equipment, reading.ts)
        if reading.slot == "active":
            active[key] = reading.is_anomaly
        elif reading.model_version == shadow_version:
            shadow[key] = reading.is_anomaly
    return pair_decisions(active, shadow)


def pair_decisions(active: Mapping[K, bool], shadow: Mapping[K, bool]) -> ShadowStats:
    """Statistics over the keys (e.g. timestamps of one equipment) that both models decided on."""
    keys = active.keys() & shadow.keys()
    return ShadowStats(
        pairs=len(keys),
        active_anomalies=sum(active[k] for k in keys),
        shadow_anomalies=sum(shadow[k] for k in keys),
        agreements=sum(active[k] == shadow[k] for k in keys),
    )


def evaluate(
    config: GateConfig, observations: Sequence[GatewayObservation], shadow: ShadowStats | None = None
) -> GateReport:
    """All gates for one step; `shadow` is given only while the new model runs in the shadow slot.

    While it shadows, the agent scores every reading with both models, so its latency says nothing about the
    new model alone: the latency gate is judged in the active stage instead, and the ML gate in the shadow one.
    """
    results = [converged_gate(observations), failures_gate(observations), error_rate_gate(config, observations)]
    if shadow is None:
        results.append(latency_gate(config, observations))
    elif config.ml.enabled:
        results.append(ml_quality_gate(config, shadow))
    return GateReport(tuple(results))


def converged_gate(observations: Sequence[GatewayObservation]) -> GateResult:
    missing = [o.gateway for o in observations if not _reports_assignment(o)]
    if missing:
        return GateResult(CONVERGED, "pending", f"waiting for {_names(missing)}")
    return GateResult(CONVERGED, "pass", f"{len(observations)} gateway(s) report the assigned models")


def _reports_assignment(observation: GatewayObservation) -> bool:
    state = observation.state
    if state is None or not state.online:
        return False
    expected = observation.expected
    return state.models.active == expected.active and state.models.shadow == expected.shadow


def failures_gate(observations: Sequence[GatewayObservation]) -> GateResult:
    problems = [f"{o.gateway}: {reason}" for o in observations for reason in _failures_of(o)]
    if problems:
        return GateResult(NO_FAILURES, "fail", "; ".join(problems[:5]), hard=True)
    return GateResult(NO_FAILURES, "pass", hard=True)


def _failures_of(observation: GatewayObservation) -> list[str]:
    reasons = list(observation.failures)
    update = observation.state.update if observation.state is not None else None
    seq = observation.desired_seq
    answered = update is not None and seq is not None and update.desired_seq == seq
    if update is not None and answered and update.outcome in ("rejected", "failed"):
        reasons.append(f"desired state {update.outcome}: {update.reason or 'no reason given'}")
    return reasons


def error_rate_gate(config: GateConfig, observations: Sequence[GatewayObservation]) -> GateResult:
    errors, attempts = 0, 0
    for o in observations:
        if o.state is None:
            continue
        before = o.baseline.counters if o.baseline is not None else None
        now = o.state.counters
        new_errors = now.score_errors - (before.score_errors if before else 0)
        new_scored = now.scored - (before.scored if before else 0)
        errors += max(new_errors, 0)
        attempts += max(new_errors, 0) + max(new_scored, 0)
    limit = config.health.max_error_rate
    if attempts < max(config.health.min_attempts, 1):
        return GateResult(ERROR_RATE, "pending", f"{attempts} scoring attempt(s) so far")
    rate = errors / attempts
    status: Status = "pass" if rate <= limit else "fail"
    return GateResult(ERROR_RATE, status, f"{errors}/{attempts} = {rate:.2%} (limit {limit:.2%})")


def latency_gate(config: GateConfig, observations: Sequence[GatewayObservation]) -> GateResult:
    ratio_limit = config.health.max_latency_ratio
    slow: list[str] = []
    waiting: list[str] = []
    for o in observations:
        reference = o.reference_p99_us
        if reference is None or reference <= 0:
            continue
        p99 = new_version_p99(config.health, o)
        if p99 is None:
            waiting.append(o.gateway)
        elif p99 > ratio_limit * reference:
            slow.append(f"{o.gateway} {p99:.0f}us vs {reference:.0f}us")
    if slow:
        return GateResult(LATENCY, "fail", f"p99 over {ratio_limit}x previous: {'; '.join(slow[:5])}")
    if waiting:
        return GateResult(LATENCY, "pending", f"too few latency samples of the new version from {_names(waiting)}")
    return GateResult(LATENCY, "pass", f"p99 within {ratio_limit}x previous")


def new_version_p99(health: HealthGates, observation: GatewayObservation) -> float | None:
    """The agent's p99 under the model assigned to its active slot (the new version when the gate is judged);
    None while there is not enough evidence.

    An agent that reports a per-model latency is judged on the assigned model's own passes only (its overall
    window still mixes in the model before the swap), once there are `min_latency_samples` of them. An older
    agent, without that field, is judged on its overall p99.
    """
    state = observation.state
    if state is None:
        return None
    own = state.model_latency
    if own is None:
        return _positive(state.latency.p99_us)
    if own.model != observation.expected.active or own.samples < health.min_latency_samples:
        return None
    return _positive(own.p99_us)


def reference_p99(health: HealthGates, state: ReportedState) -> float | None:
    """The p99 under the version running when a rollout starts: the active model's own figure when the agent
    reports one with `min_latency_samples` passes, else (older agent, recent swap) its overall p99."""
    own = state.model_latency
    if own is not None and own.model == state.models.active and own.samples >= health.min_latency_samples:
        return _positive(own.p99_us)
    return _positive(state.latency.p99_us)


def _positive(p99_us: float) -> float | None:
    """A p99 of 0 means nothing was measured."""
    return p99_us if p99_us > 0 else None


def ml_quality_gate(config: GateConfig, stats: ShadowStats) -> GateResult:
    ml = config.ml
    if stats.pairs < ml.min_pairs:
        return GateResult(ML_QUALITY, "pending", f"{stats.pairs}/{ml.min_pairs} paired readings")
    active_rate = stats.active_anomalies / stats.pairs
    shadow_rate = stats.shadow_anomalies / stats.pairs
    agreement = stats.agreements / stats.pairs
    detail = (
        f"anomaly rate shadow {shadow_rate:.2%} vs active {active_rate:.2%}, "
        f"agreement {agreement:.2%} over {stats.pairs} pairs"
    )
    change = shadow_rate - active_rate
    ok = change <= ml.max_rate_increase and -change <= ml.max_rate_decrease and agreement >= ml.min_agreement
    return GateResult(ML_QUALITY, "pass" if ok else "fail", detail)


def _names(gateways: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(gateways[:limit])
    return shown + (f" and {len(gateways) - limit} more" if len(gateways) > limit else "")
