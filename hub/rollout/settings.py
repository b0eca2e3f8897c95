"""`[rollout]` of the hub settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hub.rollout.gates import DurationMs


class RolloutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Run the rollout controller in this hub process (one replica is enough; several are safe)."""
    tick_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    """How often active rollouts are re-evaluated."""
    default_bake: DurationMs = 600_000
    gates_file: Path | None = None
    """Default gate file (TOML or JSON) for rollouts started without `--gates`."""
    min_green_per_site: Annotated[int, Field(ge=0, le=1000)] = 1
    publish_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_pair_points: Annotated[int, Field(ge=100, le=10_000_000)] = 200_000
    """Most readings per equipment and slot read for the ML-quality gate."""
