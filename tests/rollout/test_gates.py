"""Gate configuration and gate evaluation over report snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from contracts.messages import (
    Counters,
    Latency,
    ModelLatency,
    ModelRef,
    ModelSlots,
    Reading,
    ReportedState,
    UpdateStatus,
)
from hub._errors import ConfigError
from hub.rollout.gates import (
    GateConfig,
    GateReport,
    GatewayObservation,
    ShadowStats,
    evaluate,
    load_gate_config,
    ml_quality_gate,
    pair_stats,
    parse_duration_ms,
    reference_p99,
)
from hub.rollout.planner import Assignment

OLD = ModelRef(name="pump", version="1.0.0")
NEW = ModelRef(name="pump", version="1.1.0")


def _state(gateway: str = "g1", active: ModelRef | None = NEW, shadow: ModelRef | None = None, **kw) -> ReportedState:
    online = kw.pop("online", True)
    slots = ModelSlots(active=active, shadow=shadow)
    return ReportedState(gateway=gateway, seq=1, ts=1, online=online, models=slots, **kw)


def _obs(**kw) -> GatewayObservation:
    expected = kw.pop("expected", Assignment(active=NEW))
    return GatewayObservation(gateway=kw.pop("gateway", "g1"), expected=expected, **kw)


def _status(report: GateReport, name: str) -> str:
    result = report.get(name)
    assert result is not None
    return result.status


def test_durations() -> None:
    assert parse_duration_ms("10m") == 600_000
    assert parse_duration_ms("250ms") == 250
    assert parse_duration_ms(1.5) == 1500
    assert parse_duration_ms("2") == 2000
    for bad in ("ten minutes", -1, True, None):
        with pytest.raises(ValueError):
            parse_duration_ms(bad)


def test_gate_file_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "gates.toml"
    toml.write_text('deadline = "2m"\non_failure = "hold"\n[ml]\nmin_pairs = 10\nmax_rate_increase = 0.1\n')
    config = load_gate_config(toml)
    assert config.deadline == 120_000 and config.on_failure == "hold"
    assert config.ml.min_pairs == 10 and config.health.max_error_rate == 0.01
    js = tmp_path / "gates.json"
    js.write_text(json.dumps({"health": {"max_latency_ratio": 2}}))
    assert load_gate_config(js).health.max_latency_ratio == 2


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[ml]\nmin_agreement = 1.5\n", "ml.min_agreement"),
        ('deadline = "soon"\n', "deadline"),
        ("surprise = 1\n", "surprise"),
        ("not toml [", ""),
    ],
)
def test_gate_file_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "gates.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_gate_config(path)
    assert str(path) in str(info.value) and field in str(info.value)


def test_missing_gate_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_gate_config(tmp_path / "nope.toml")


def test_converged_needs_every_target_online_with_the_assigned_slots() -> None:
    config = GateConfig()
    shadow = Assignment(active=OLD, shadow=NEW)
    report = evaluate(config, [_obs(expected=shadow, state=_state(active=OLD, shadow=NEW))])
    assert report.converged
    for state in (None, _state(active=OLD), _state(active=OLD, shadow=NEW, online=False)):
        report = evaluate(config, [_obs(expected=shadow, state=state)])
        converged = report.get("converged")
        assert not report.converged and converged is not None and "g1" in converged.detail


def test_failures_are_hard() -> None:
    update = UpdateStatus(desired_seq=7, outcome="rejected", reason="bad signature")
    report = evaluate(GateConfig(), [_obs(state=_state(update=update), desired_seq=7)])
    assert [r.name for r in report.hard_failures] == ["no_failures"]
    assert "bad signature" in report.hard_failures[0].detail
    stale = evaluate(GateConfig(), [_obs(state=_state(update=update), desired_seq=8)])
    assert not stale.hard_failures
    event = evaluate(GateConfig(), [_obs(state=_state(), failures=("model_load_failed: onnx",))])
    assert event.hard_failures


def test_error_rate_uses_counters_since_bake_start() -> None:
    config = GateConfig()
    base = _state(counters=Counters(scored=1000, score_errors=500))
    good = _state(counters=Counters(scored=1990, score_errors=510))
    bad = _state(counters=Counters(scored=1900, score_errors=520))
    assert _status(evaluate(config, [_obs(state=good, baseline=base)]), "error_rate") == "pass"
    assert _status(evaluate(config, [_obs(state=bad, baseline=base)]), "error_rate") == "fail"
    assert _status(evaluate(config, [_obs(state=base, baseline=base)]), "error_rate") == "pending"


def test_latency_relative_to_previous_version() -> None:
    config = GateConfig()
    fast = _state(latency=Latency(p99_us=140.0))
    slow = _state(latency=Latency(p99_us=151.0))
    assert _status(evaluate(config, [_obs(state=fast, reference_p99_us=100.0)]), "latency") == "pass"
    assert _status(evaluate(config, [_obs(state=slow, reference_p99_us=100.0)]), "latency") == "fail"
    assert _status(evaluate(config, [_obs(state=_state(), reference_p99_us=100.0)]), "latency") == "pending"
    assert _status(evaluate(config, [_obs(state=slow, reference_p99_us=None)]), "latency") == "pass"


def _own(model: ModelRef, p99_us: float, samples: int = 20) -> ModelLatency:
    return ModelLatency(model=model, samples=samples, p99_us=p99_us)


def _latency(state: ReportedState, reference: float | None = 100.0, config: GateConfig | None = None) -> str:
    return _status(evaluate(config or GateConfig(), [_obs(state=state, reference_p99_us=reference)]), "latency")


def test_latency_judges_the_new_versions_own_p99() -> None:
    assert _latency(_state(model_latency=_own(NEW, 140.0))) == "pass"
    assert _latency(_state(model_latency=_own(NEW, 151.0))) == "fail"


def test_latency_ignores_the_mixed_overall_p99_when_the_agent_reports_its_own() -> None:
    mixed_slow = Latency(p99_us=400.0)  # the window still holds the old model's passes (or the shadow's)
    assert _latency(_state(latency=mixed_slow, model_latency=_own(NEW, 120.0))) == "pass"
    mixed_fast = Latency(p99_us=90.0)
    assert _latency(_state(latency=mixed_fast, model_latency=_own(NEW, 200.0))) == "fail"


def test_latency_waits_for_enough_passes_of_the_new_version() -> None:
    fast = Latency(p99_us=90.0)
    assert _latency(_state(latency=fast, model_latency=_own(NEW, 120.0, samples=19))) == "pending"
    assert _latency(_state(latency=fast, model_latency=_own(NEW, 120.0, samples=20))) == "pass"
    assert _latency(_state(latency=fast, model_latency=_own(OLD, 120.0, samples=4096))) == "pending"  # not swapped
    strict = GateConfig.model_validate({"health": {"min_latency_samples": 100}})
    assert _latency(_state(model_latency=_own(NEW, 120.0, samples=99)), config=strict) == "pending"
    assert _latency(_state(model_latency=_own(NEW, 120.0, samples=100)), config=strict) == "pass"


def test_latency_of_an_old_agent_without_per_model_figures_uses_its_overall_p99() -> None:
    assert _latency(_state(latency=Latency(p99_us=140.0))) == "pass"
    assert _latency(_state(latency=Latency(p99_us=151.0))) == "fail"
    assert _latency(_state()) == "pending"


def test_reference_prefers_the_previous_models_own_p99() -> None:
    health = GateConfig().health
    mixed = Latency(p99_us=300.0)
    assert reference_p99(health, _state(active=OLD, latency=mixed, model_latency=_own(OLD, 80.0))) == 80.0
    assert reference_p99(health, _state(active=OLD, latency=mixed, model_latency=_own(OLD, 80.0, 19))) == 300.0
    assert reference_p99(health, _state(active=OLD, latency=mixed, model_latency=_own(NEW, 80.0))) == 300.0
    assert reference_p99(health, _state(active=OLD, latency=mixed)) == 300.0  # old agent
    assert reference_p99(health, _state(active=OLD)) is None


def test_rollout_start_captures_the_reference_from_the_reported_state() -> None:
    from hub.db.models import GatewayRecord
    from hub.rollout.controller import _targets

    own = _state("g1", active=OLD, latency=Latency(p99_us=300.0), model_latency=_own(OLD, 80.0))
    old_agent = _state("g2", active=OLD, latency=Latency(p99_us=300.0))
    records = [
        GatewayRecord(
            id=s.gateway, site="s1", registered_at_ms=0, reported_state=s.model_dump(mode="json", by_alias=True)
        )
        for s in (own, old_agent)
    ]
    _infos, _previous, p99, _skipped = _targets(records, "pump", GateConfig().health)
    assert p99 == {"g1": 80.0, "g2": 300.0}


def _reading(ts: int, slot: Literal["active", "shadow"], anomaly: bool, version: str) -> Reading:
    return Reading(
        equipment="pump-1", ts=ts, values={"p": 1.0}, score=0.5, is_anomaly=anomaly, threshold=0.4,
        model="pump", model_version=version, slot=slot,
    )


def test_pair_stats_pairs_on_equipment_and_timestamp() -> None:
    readings = [_reading(ts, "active", ts % 10 == 0, "1.0.0") for ts in range(100)]
    readings += [_reading(ts, "shadow", ts % 5 == 0, "1.1.0") for ts in range(50, 150)]
    readings += [_reading(ts, "shadow", True, "0.9.0") for ts in range(100)]
    stats = pair_stats(readings, "1.1.0")
    assert stats.pairs == 50 and stats.active_anomalies == 5 and stats.shadow_anomalies == 10
    assert stats.agreements == 45
    assert stats + stats == ShadowStats(100, 10, 20, 90)


def test_ml_quality_band_and_agreement() -> None:
    config = GateConfig.model_validate({"ml": {"min_pairs": 100, "max_rate_increase": 0.02, "min_agreement": 0.9}})
    assert ml_quality_gate(config, ShadowStats(99, 0, 0, 99)).status == "pending"
    assert ml_quality_gate(config, ShadowStats(1000, 50, 60, 990)).status == "pass"
    assert ml_quality_gate(config, ShadowStats(1000, 50, 300, 750)).status == "fail"  # over-alarming
    assert ml_quality_gate(config, ShadowStats(1000, 100, 30, 930)).status == "fail"  # goes blind
    assert ml_quality_gate(config, ShadowStats(1000, 50, 50, 850)).status == "fail"  # same rate, other readings


def test_ml_gate_only_with_shadow_stats_and_when_enabled() -> None:
    obs = [_obs(state=_state())]
    assert evaluate(GateConfig(), obs).get("ml_quality") is None
    assert evaluate(GateConfig(), obs, ShadowStats()).get("ml_quality") is not None
    off = GateConfig.model_validate({"ml": {"enabled": False}})
    assert evaluate(off, obs, ShadowStats()).get("ml_quality") is None


def test_all_passed_needs_every_gate() -> None:
    base = _state(counters=Counters(scored=0))
    state = _state(counters=Counters(scored=100), latency=Latency(p99_us=10.0))
    report = evaluate(GateConfig(), [_obs(state=state, baseline=base, reference_p99_us=10.0)])
    assert report.all_passed, report.summary()
    report = evaluate(GateConfig(), [_obs(state=state, baseline=base)], ShadowStats())
    assert not report.all_passed and [r.name for r in report.not_passed] == ["ml_quality"]
    assert report.get("latency") is None  # both models score while one shadows: latency is judged later


def test_a_gate_config_survives_a_json_round_trip_unchanged() -> None:
    """Stored rollouts keep their gate config as JSON: durations must not be re-read as seconds."""
    from hub.rollout.gates import GateConfig

    config = GateConfig.model_validate({"deadline": "60s", "rollback_deadline": 90})
    for _ in range(3):
        config = GateConfig.model_validate(config.model_dump(mode="json"))
    assert (config.deadline, config.rollback_deadline) == (60_000, 90_000)
