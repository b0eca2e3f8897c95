"""The monitor adapter on the real embedded stores: drift points, events, restart, duplicates, manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import col, select

from hub.db.engine import make_engine, session_scope
from hub.db.migrate import upgrade
from hub.db.models import EventRecord
from hub.drift.manifests import ChainManifests, DirectoryManifests, RegistryManifests
from hub.drift.monitor import DRIFT_EVENT_IDX, DriftMonitor, SqlEventSink
from hub.drift.settings import DriftSettings
from hub.drift.tracker import DriftTracker, Evaluation
from hub.series.base import RangeQuery
from hub.series.sqlite_store import SqliteSeriesStore
from tests.drift.helpers import FLOW_SIGMA, Equipment, trained, write_manifest_dir

T0 = 1_700_000_000_000 // 100_000 * 100_000
SHIFT = {"flow_rate_rms": FLOW_SIGMA}


@pytest.fixture
def stores(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(engine)
    store = SqliteSeriesStore(tmp_path / "series.db")
    yield engine, store
    store.close()
    engine.dispose()


def monitor_for(engine, store, manifests: Path) -> DriftMonitor:
    chain = ChainManifests(RegistryManifests(engine), DirectoryManifests(manifests))
    return DriftMonitor(store, SqlEventSink(engine), chain, DriftTracker(DriftSettings().rule()))


def drift_events(engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.exec(select(EventRecord).order_by(col(EventRecord.id))).all()
    return [(r.kind, r.severity, r.detail.split(":")[0]) for r in rows]


def test_monitor_writes_points_and_events_and_survives_a_restart(stores, tmp_path: Path) -> None:
    engine, store = stores
    model = trained()
    manifests = write_manifest_dir(model, tmp_path / "manifests")
    pump = Equipment(model, "gw-mon", "pump-7", start_ms=T0)
    monitor = monitor_for(engine, store, manifests)

    for _ in range(2):
        evaluation = monitor.observe(pump.sketch(1000), "lyon", 1)
        assert isinstance(evaluation, Evaluation) and not any(r.drifting for r in evaluation.results)
    shifted = [pump.sketch(1000, SHIFT) for _ in range(2)]
    monitor.observe(shifted[0], "lyon", 1)
    assert monitor.observe(shifted[0], "lyon", 1) is None  # redelivered: ignored
    evaluation = monitor.observe(shifted[1], "lyon", 1)
    assert evaluation is not None
    started = {r.feature for r in evaluation.results if r.transition == "start"}
    assert "flow_rate_rms" in started and all(f.startswith(("flow_rate_rms", "score")) for f in started)
    assert [k for k, _s, _d in drift_events(engine)] == ["drift_start"] * len(started)
    assert {d for _k, _s, d in drift_events(engine)} == {f"feature {f} drifting" for f in started}
    assert {s for _k, s, _d in drift_events(engine)} == {"warning"}

    rows = store.query_range(RangeQuery("drift", {"gateway": "gw-mon", "feature": "flow_rate_rms"}, T0,
                                        T0 + 10**7, 100)).rows
    assert [r.fields["drifted"] for r in rows] == [0.0, 0.0, 0.0, 1.0]
    assert rows[-1].ts_ms == shifted[1].window_end and rows[-1].fields["n"] == 1000.0
    assert rows[-1].fields["psi"] is not None and rows[-1].fields["psi"] > 1.0

    restarted = monitor_for(engine, store, manifests)  # a new hub process: state comes from the store
    ends: set[str] = set()
    for _ in range(3):
        evaluation = restarted.observe(pump.sketch(1000), "lyon", 2)
        assert evaluation is not None
        ends |= {r.feature for r in evaluation.results if r.transition == "end"}
    assert ends == started
    kinds = [k for k, _s, _d in drift_events(engine)]
    assert kinds == ["drift_start"] * len(started) + ["drift_end"] * len(started)
    with session_scope(engine) as session:
        indexes = {r.idx for r in session.exec(select(EventRecord)).all()}
    assert min(indexes) >= DRIFT_EVENT_IDX


def test_a_model_without_manifest_is_counted_not_evaluated(stores, tmp_path: Path) -> None:
    engine, store = stores
    monitor = monitor_for(engine, store, tmp_path / "empty")
    pump = Equipment(trained(), "gw-mon", "pump-8", start_ms=T0)
    assert monitor.observe(pump.sketch(1000), "lyon", 1) is None
    assert monitor.metrics.windows.labels("no_manifest")._value.get() == 1.0
    assert store.latest("drift", {"gateway": "gw-mon"}, ("feature",)) == {}


def test_directory_manifests_refuse_other_names(tmp_path: Path) -> None:
    model = trained()
    root = write_manifest_dir(model, tmp_path / "m")
    wrong = root / "other" / "1.0.0"
    wrong.mkdir(parents=True)
    (wrong / "manifest.json").write_bytes(model.manifest.canonical_bytes())
    provider = DirectoryManifests(root)
    assert provider.manifest("pump", "1.0.0") == model.manifest
    assert provider.manifest("other", "1.0.0") is None
    assert provider.manifest("..", "1.0.0") is None
    assert provider.manifest("pump", "9.9.9") is None


def test_settings_refuse_contradictory_thresholds() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exit threshold"):
        DriftSettings(psi_enter=0.1, psi_exit=0.2)
    assert DriftSettings(min_count=50).rule().min_count == 50
