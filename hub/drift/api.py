"""`GET /api/v1/drift`: the latest drift evaluation of every feature of every equipment (reader role)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from hub.api.deps import READER, StoreDep

router = APIRouter(prefix="/api/v1/drift", tags=["drift"], dependencies=[READER])
BY = ("site", "gateway", "equipment", "feature", "model_version")


class DriftStatus(BaseModel):
    site: str
    gateway: str
    equipment: str
    feature: str
    model_version: str
    ts_ms: int
    """End of the evaluated window (sensor clock)."""
    psi: float | None
    js: float | None
    n: int | None
    drifting: bool
    """The state after the hysteresis (not just this window's verdict)."""


@router.get("")
def drift_status(
    store: StoreDep,
    site: str | None = None,
    gateway: str | None = None,
    equipment: str | None = None,
    drifting: bool | None = None,
) -> list[DriftStatus]:
    """Latest evaluation per (gateway, equipment, feature, model version); `drifting=true` lists the alerts.

    Drifting features first, then by gateway, equipment and feature.
    """
    where = {k: v for k, v in (("site", site), ("gateway", gateway), ("equipment", equipment)) if v is not None}
    rows = store.latest("drift", where, BY)
    out = [
        DriftStatus(
            **{tag: row.tags.get(tag, "") for tag in BY},
            ts_ms=row.ts_ms,
            psi=row.fields.get("psi"),
            js=row.fields.get("js"),
            n=None if row.fields.get("n") is None else int(row.fields["n"] or 0),
            drifting=bool(row.fields.get("drifted")),
        )
        for row in rows.values()
    ]
    if drifting is not None:
        out = [s for s in out if s.drifting == drifting]
    out.sort(key=lambda s: (not s.drifting, s.gateway, s.equipment, s.feature, s.model_version))
    return out
