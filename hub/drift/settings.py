"""`[drift]` of the hub settings (kept light: `hub.settings` imports it)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from hub.drift.stats import DriftRule

LN2 = math.log(2.0)


class DriftSettings(BaseModel):
    """Drift monitor: thresholds and hysteresis (see `hub/drift/stats.py`), pooling, manifests.

    Environment: `VIGIE_HUB_DRIFT__PSI_ENTER=0.25`, `VIGIE_HUB_DRIFT__IGNORE_FEATURES='["temperature*"]'`.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    psi_enter: float = Field(0.2, gt=0)
    """A window is over the line when PSI > psi_enter or JS > js_enter."""
    js_enter: float = Field(0.1, gt=0, lt=LN2)
    psi_exit: float = Field(0.1, gt=0)
    """A window is back to normal when PSI < psi_exit and JS < js_exit."""
    js_exit: float = Field(0.05, gt=0, lt=LN2)
    min_count: int = Field(1000, ge=1)
    """Readings per evaluation: small sketch windows are pooled until they hold this many."""
    enter_windows: int = Field(2, ge=1)
    """Consecutive evaluations over the line before a feature is drifting."""
    exit_windows: int = Field(3, ge=1)
    """Consecutive evaluations back to normal before it is not drifting any more."""
    pseudo_count: float = Field(0.5, gt=0, le=10)
    """Added to every bin of both histograms before comparing them (see `hub/drift/stats.py`)."""
    max_pool_hours: float = Field(6.0, gt=0)
    """Pooled windows older than this (sensor time) are dropped unevaluated."""
    ignore_features: list[str] = []
    """Shell patterns of features never evaluated, e.g. slow process values such as `thermocouple*`."""
    manifest_dir: Path | None = None
    """Extra manifests, `<dir>/<model>/<version>/manifest.json`, for models not published to the registry."""

    @model_validator(mode="after")
    def _coherent(self) -> DriftSettings:
        self.rule()
        return self

    def rule(self) -> DriftRule:
        """The pure rule; raises ValueError when the thresholds contradict each other (exit above enter)."""
        from hub.drift.stats import DriftRule

        return DriftRule(
            psi_enter=self.psi_enter,
            js_enter=self.js_enter,
            psi_exit=self.psi_exit,
            js_exit=self.js_exit,
            min_count=self.min_count,
            enter_windows=self.enter_windows,
            exit_windows=self.exit_windows,
            pseudo_count=self.pseudo_count,
        )
