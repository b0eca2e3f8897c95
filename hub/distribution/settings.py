"""`[distribution]` of the hub settings (kept light: `hub.settings` imports it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class DistributionSettings(BaseModel):
    """`[distribution]` of the hub settings."""

    model_config = ConfigDict(extra="forbid")

    repo_dir: Path | None = None
    """The TUF repository; default `<data_dir>/tuf`."""
    keys_dir: Path | None = None
    """Online keys (`timestamp.pem`, `snapshot.pem`, `bundles.pem`); default `<data_dir>/keys/tuf`."""
    auto_init: bool = True
    """Development only: create the repository on first start if there is none."""
    refresh_s: float = Field(600.0, gt=0)
    """How often online metadata is checked and re-signed before it expires."""
