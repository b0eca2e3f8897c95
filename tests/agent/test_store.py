"""Model store and manager without a broker: .tar bundles, restore after restart, refusal reasons."""

from __future__ import annotations

import time
from pathlib import Path

from contracts.messages import DesiredState, ModelRef
from edge_agent.fetcher import LocalDirFetcher
from edge_agent.models import ModelManager, ModelStore, SwapCommand, bundle_verifier
from model_export.bundle import pack_tar
from tests.agent.helpers import write_signed_bundle


def _desired(seq: int, version: str | None, shadow: str | None = None, allow: bool = False) -> DesiredState:
    return DesiredState(gateway="gw-1", seq=seq, issued_at=int(time.time() * 1000),
                        active=ModelRef(name="pump", version=version) if version else None,
                        shadow=ModelRef(name="pump", version=shadow) if shadow else None, allow_downgrade=allow)


def _manager(tmp_path: Path, bundles: Path, release_key) -> tuple[ModelManager, list[SwapCommand]]:
    applied: list[SwapCommand] = []
    manager = ModelManager(ModelStore(tmp_path / "store"), LocalDirFetcher(bundles),
                           bundle_verifier([release_key.public_key()]), applied.append)
    return manager, applied


def test_tar_bundle_is_verified_installed_and_restored(tmp_path, trained, release_key) -> None:
    bundles = tmp_path / "bundles"
    directory = write_signed_bundle(tmp_path / "src", trained, "3.0.0", release_key)
    (bundles / "pump").mkdir(parents=True)
    pack_tar(directory, bundles / "pump" / "3.0.0.tar")
    manager, applied = _manager(tmp_path, bundles, release_key)
    manager.handle(_desired(1, "3.0.0"))
    assert manager.update is not None and manager.update.outcome == "applied"
    assert applied[-1].active is not None and applied[-1].active.ref.version == "3.0.0"
    assert [e.kind for e in applied[-1].events] == ["model_swapped"]
    assert (tmp_path / "store" / "bundles" / "pump" / "3.0.0" / "model.onnx").is_file()
    assert not (tmp_path / "store" / "staging").exists()

    again, restored = _manager(tmp_path, tmp_path / "nowhere", release_key)  # a restart, offline
    again.restore()
    assert restored[0].active is not None and restored[0].active.ref.version == "3.0.0"
    assert again.slots().active == ModelRef(name="pump", version="3.0.0")


def test_missing_bundle_fails_and_a_tampered_install_is_not_restored(tmp_path, trained, release_key) -> None:
    bundles = tmp_path / "bundles"
    write_signed_bundle(bundles, trained, "1.0.0", release_key)
    manager, applied = _manager(tmp_path, bundles, release_key)
    manager.handle(_desired(1, "9.9.9"))
    assert manager.update is not None and manager.update.outcome == "failed"
    assert manager.update.reason.startswith("not_found")
    assert applied[-1].events[0].kind == "model_load_failed"
    manager.handle(_desired(2, "1.0.0", shadow="1.0.0"))
    assert manager.slots().active is not None and manager.slots().shadow is None  # the active cannot shadow itself
    installed = tmp_path / "store" / "bundles" / "pump" / "1.0.0" / "model.onnx"
    installed.write_bytes(installed.read_bytes()[:-1] + b"\x00")
    again, restored = _manager(tmp_path, bundles, release_key)
    again.restore()
    assert restored[0].active is None
    assert restored[0].events[0].kind == "model_load_failed" and "tampered" in restored[0].events[0].detail


def test_repeated_desired_seq_is_handled_once(tmp_path, bundles, release_key) -> None:
    manager, applied = _manager(tmp_path, bundles, release_key)
    manager.handle(_desired(5, "1.0.0"))
    count = len(applied)
    manager.handle(_desired(5, "1.0.0"))  # the retained message again after a reconnect
    assert len(applied) == count
