"""Model store and hot swap: slots active / previous / shadow, driven by the retained desired state.

Flow for a desired state: version policy (pure, `policy.decide`) -> fetch (Fetcher) into the store's
staging area -> verify (release signature, digest, layout: `model_export.bundle.verify_bundle`) ->
install under `<store>/bundles/<name>/<version>/` -> load (onnxruntime) -> hand a `SwapCommand` to
the scorer thread, which applies it between two batches. A refusal or failure anywhere leaves the
current model serving and is reported (UpdateStatus + model_rejected / model_load_failed event).

The previous model stays loaded, so a rollback (`allow_downgrade` to the previous version) is one swap
without download. `slots.json` records the slots so a restart serves the same models (re-verified).
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contracts._files import write_atomic
from contracts.messages import DesiredState, ModelRef, ModelSlots, UpdateStatus
from edge_agent._errors import BundleRejected
from edge_agent.fetcher import Fetcher
from edge_agent.policy import decide, decide_shadow
from edge_agent.runtime import ModelRuntime, runtime_from
from model_export._errors import BundleError, TamperedBundle, UnsafeBundle
from model_export.bundle import VerifiedBundle, verify_bundle

log = logging.getLogger("vigie.agent.models")
REFUSALS = frozenset({"version_policy", "bad_signature", "tampered", "unsafe", "wrong_model", "bad_manifest",
                      "untrusted"})
"""BundleRejected reasons reported as outcome `rejected` + `model_rejected` (the bundle must not be used);
the others (`not_found`, `fetch_failed`, `unreadable`, `load_failed`) are `failed` + `model_load_failed`."""

Verifier = Callable[[Path], VerifiedBundle]
"""Verify a bundle (dir or .tar) against the pinned release keys; raises BundleRejected with the reason."""


def bundle_verifier(keys: Sequence[Ed25519PublicKey]) -> Verifier:
    """`model_export.bundle.verify_bundle` with its errors translated into BundleRejected reasons."""

    def verify(path: Path) -> VerifiedBundle:
        try:
            return verify_bundle(path, keys)
        except TamperedBundle as exc:
            reason = "bad_signature" if str(exc).startswith("signature") else "tampered"
            raise BundleRejected(reason, str(exc)) from None
        except UnsafeBundle as exc:
            raise BundleRejected("unsafe", str(exc)) from None
        except BundleError as exc:
            raise BundleRejected("unreadable", str(exc)) from None

    return verify


@dataclass(frozen=True)
class ModelEvent:
    kind: Literal["model_swapped", "model_rejected", "model_load_failed"]
    ref: ModelRef | None
    detail: str


@dataclass(frozen=True)
class SwapCommand:
    """Applied by the scorer thread between batches. `shadow_changed` False keeps the current shadow."""

    active: ModelRuntime | None = None
    shadow_changed: bool = False
    shadow: ModelRuntime | None = None
    events: tuple[ModelEvent, ...] = ()


@dataclass
class _Slots:
    active: ModelRuntime | None = None
    previous: ModelRuntime | None = None
    shadow: ModelRuntime | None = None
    events: list[ModelEvent] = field(default_factory=list)


class ModelStore:
    """Files: `<root>/slots.json`, `<root>/bundles/<name>/<version>/`, `<root>/staging/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bundles = root / "bundles"
        self.staging = root / "staging"
        self.bundles.mkdir(parents=True, exist_ok=True)

    def path(self, ref: ModelRef) -> Path:
        return self.bundles / ref.name / ref.version

    def read_slots(self) -> dict[str, ModelRef]:
        try:
            document = json.loads((self.root / "slots.json").read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("slots.json unreadable; starting without a model", extra={"error": str(exc)})
            return {}
        return {k: ModelRef.model_validate(v) for k, v in document.items() if v is not None}

    def write_slots(self, slots: dict[str, ModelRef | None]) -> None:
        document = {k: (None if v is None else v.model_dump()) for k, v in slots.items()}
        write_atomic(self.root / "slots.json", json.dumps(document, sort_keys=True).encode())

    def prune(self, keep: set[ModelRef]) -> None:
        """Delete installed bundles no slot uses."""
        for name_dir in self.bundles.iterdir():
            for version_dir in name_dir.iterdir():
                if ModelRef(name=name_dir.name, version=version_dir.name) not in keep:
                    shutil.rmtree(version_dir, ignore_errors=True)

    def clear_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


class ModelManager:
    """Owns the slots; `handle` runs on the updater thread, `apply` hands swaps to the scorer thread."""

    def __init__(
        self, store: ModelStore, fetcher: Fetcher | None, verify: Verifier, apply: Callable[[SwapCommand], None]
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.verify = verify
        self.apply = apply
        self.update: UpdateStatus | None = None
        self._slots = _Slots()
        self._lock = threading.Lock()
        self._last_seq: int | None = None

    # -- reporting ------------------------------------------------------------------------------------
    def slots(self) -> ModelSlots:
        with self._lock:
            s = self._slots
            return ModelSlots(
                active=s.active.ref if s.active else None,
                previous=s.previous.ref if s.previous else None,
                shadow=s.shadow.ref if s.shadow else None,
            )

    # -- startup --------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Re-verify and load the models recorded in slots.json (a bad one is reported and skipped)."""
        recorded = self.store.read_slots()
        loaded = {name: self._reload(ref) for name, ref in recorded.items()}
        with self._lock:
            self._slots.active = loaded.get("active")
            self._slots.previous = loaded.get("previous")
            self._slots.shadow = loaded.get("shadow")
            events = tuple(self._slots.events)
            self._slots.events.clear()
        self.apply(SwapCommand(self._slots.active, True, self._slots.shadow, events))

    def _reload(self, ref: ModelRef) -> ModelRuntime | None:
        try:
            return self._verify_and_load(self.store.path(ref), ref, installed=True)
        except BundleRejected as exc:
            self._slots.events.append(ModelEvent("model_load_failed", ref, f"at startup: {exc}"))
            log.error("installed model failed verification", extra={"model": ref.name, "version": ref.version})
            return None

    # -- desired state --------------------------------------------------------------------------------
    def handle(self, desired: DesiredState) -> None:
        """Bring the slots to `desired` (idempotent for a repeated seq)."""
        if desired.seq == self._last_seq:
            return
        self._last_seq = desired.seq
        self.update = UpdateStatus(desired_seq=desired.seq, outcome="pending")
        events: list[ModelEvent] = []
        try:
            command = self._plan(desired, events)
        except BundleRejected as exc:
            self._report_failure(desired, exc, events)
            return
        if command.active is not None or command.shadow_changed:
            self._commit(command, events)
        self.update = UpdateStatus(desired_seq=desired.seq, outcome="applied")

    def _plan(self, desired: DesiredState, events: list[ModelEvent]) -> SwapCommand:
        active = self._plan_active(desired, events) if desired.active is not None else None
        shadow_changed, shadow = self._plan_shadow(desired.shadow, active)
        return SwapCommand(active, shadow_changed, shadow)

    def _plan_active(self, desired: DesiredState, events: list[ModelEvent]) -> ModelRuntime | None:
        assert desired.active is not None
        with self._lock:
            current = self._slots.active
            previous = self._slots.previous
        current_ref = current.ref if current else None
        verdict = decide(desired.active, current_ref, previous.ref if previous else None, desired.allow_downgrade)
        if verdict.verdict == "reject":
            raise BundleRejected("version_policy", verdict.reason)
        if verdict.verdict == "noop":
            return None
        if previous is not None and previous.ref == desired.active:
            return previous  # rollback: already verified and loaded
        return self._obtain(desired.active)

    def _plan_shadow(
        self, wanted: ModelRef | None, new_active: ModelRuntime | None
    ) -> tuple[bool, ModelRuntime | None]:
        with self._lock:
            current = self._slots.shadow
            active = new_active or self._slots.active
        if wanted is None:
            return current is not None, None
        if current is not None and current.ref == wanted:
            return False, current
        if decide_shadow(wanted, active.ref if active else None).verdict == "noop":
            return current is not None, None
        return True, self._obtain(wanted)

    def _obtain(self, ref: ModelRef) -> ModelRuntime:
        """Fetch, verify, install and load a bundle not yet loaded."""
        installed = self.store.path(ref)
        if installed.is_dir():
            try:
                return self._verify_and_load(installed, ref, installed=True)
            except BundleRejected:
                shutil.rmtree(installed, ignore_errors=True)
        if self.fetcher is None:
            raise BundleRejected("not_found", "no bundle source configured (models.bundles_dir)")
        self.store.clear_staging()
        staged = self.fetcher.fetch(ref, self.store.staging / "fetched")
        try:
            return self._verify_and_load(staged, ref, installed=False)
        finally:
            self.store.clear_staging()

    def _verify_and_load(self, bundle: Path, ref: ModelRef, installed: bool) -> ModelRuntime:
        verified = self.verify(bundle)
        found = ModelRef(name=verified.manifest.name, version=verified.manifest.version)
        if found != ref:
            raise BundleRejected("wrong_model", f"bundle holds {found.name} {found.version}, not {ref.version}")
        runtime = runtime_from(verified.manifest, verified.model_bytes)
        if not installed:
            final = self.store.path(ref)
            shutil.rmtree(final, ignore_errors=True)
            verified.write_to(final)
        return runtime

    def _commit(self, command: SwapCommand, events: list[ModelEvent]) -> None:
        with self._lock:
            s = self._slots
            if command.active is not None:
                old = s.active
                s.previous = old if old is not None and old is not command.active else s.previous
                s.active = command.active
                detail = f"from {old.ref.version if old else 'none'}"
                events.append(ModelEvent("model_swapped", command.active.ref, detail))
            if command.shadow_changed:
                s.shadow = command.shadow
            refs = {"active": s.active, "previous": s.previous, "shadow": s.shadow}
        self.store.write_slots({k: (v.ref if v else None) for k, v in refs.items()})
        self.store.prune({v.ref for v in refs.values() if v is not None})
        self.apply(SwapCommand(command.active, command.shadow_changed, command.shadow, tuple(events)))
        log.info("models updated", extra={"slots": self.slots().model_dump()})

    def _report_failure(self, desired: DesiredState, exc: BundleRejected, events: list[ModelEvent]) -> None:
        refused = exc.reason in REFUSALS
        outcome: Literal["rejected", "failed"] = "rejected" if refused else "failed"
        kind: Literal["model_rejected", "model_load_failed"] = (
            "model_rejected" if outcome == "rejected" else "model_load_failed"
        )
        self.update = UpdateStatus(desired_seq=desired.seq, outcome=outcome, reason=str(exc)[:1000])
        events.append(ModelEvent(kind, desired.active, str(exc)))
        self.apply(SwapCommand(events=tuple(events)))
        log.warning("desired state refused", extra={"reason": exc.reason, "detail": exc.detail})
