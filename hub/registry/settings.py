"""`[registry]` of the hub settings (kept light: `hub.settings` imports it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RegistrySettings(BaseModel):
    """`[registry]` of the hub settings."""

    model_config = ConfigDict(extra="forbid")

    release_keys: list[Path] = []
    """Pinned release public keys (PEM): only bundles signed by one of them can be published."""
    max_bundle_mb: int = Field(256, ge=1, le=4096)
