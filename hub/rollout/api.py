"""`/api/v1/rollouts`: start (operator), status (reader), pause / resume / abort / promote (operator),
`promote` with `force` (admin). Every state change is an audit entry (appended by the controller)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from contracts._base import Identifier, SemVer
from hub._errors import ConfigError
from hub.api.deps import READER, SessionDep
from hub.rollout.controller import Actor, Command, RolloutController
from hub.rollout.gates import DurationMs, gate_config_from
from hub.rollout.views import RolloutDetail, RolloutSummary, detail, list_rollouts
from hub.security.deps import Principal, require_role
from hub.security.roles import Role

router = APIRouter(prefix="/api/v1/rollouts", tags=["rollouts"], dependencies=[READER])
OperatorDep = Annotated[Principal, Depends(require_role(Role.OPERATOR))]


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Identifier
    version: SemVer
    bake: DurationMs | None = None
    """Bake time of each step ("10m", "90s" or seconds); default: the hub's `rollout.default_bake`."""
    gates: dict[str, Any] | None = None
    """A gate configuration document (the content of a `--gates` file); default: the hub's."""


class AbortRequest(BaseModel):
    reason: str = Field("aborted by operator", max_length=500)


class PromoteRequest(BaseModel):
    force: bool = False
    """Skip failing gates (admin only)."""


def controller_of(request: Request) -> RolloutController:
    controller = getattr(request.app.state, "rollouts", None)
    if not isinstance(controller, RolloutController):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the rollout controller is not running on this hub")
    return controller


def _actor(principal: Principal) -> Actor:
    return Actor(principal.subject, principal.role.value)


@router.post("", status_code=status.HTTP_201_CREATED, responses={
    404: {"description": "no such published model version"},
    409: {"description": "a rollout is already running, or the version is deprecated"},
    422: {"description": "invalid gate configuration"},
})
def start(body: StartRequest, request: Request, principal: OperatorDep, session: SessionDep) -> RolloutDetail:
    controller = controller_of(request)
    try:
        gates = gate_config_from(body.gates, source="gates") if body.gates is not None else None
    except ConfigError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    rollout_id = controller.create(body.model, body.version, _actor(principal), body.bake, gates)
    return detail(session, rollout_id)


@router.get("")
def index(session: SessionDep, active: bool = False, model: str | None = None) -> list[RolloutSummary]:
    return list_rollouts(session, active_only=active, model=model)


@router.get("/{rollout_id}")
def show(rollout_id: str, session: SessionDep) -> RolloutDetail:
    return detail(session, rollout_id)


def _command(request: Request, principal: Principal, rollout_id: str, kind: Command, **kw: Any) -> None:
    controller_of(request).command(rollout_id, kind, _actor(principal), **kw)


@router.post("/{rollout_id}/pause")
def pause(rollout_id: str, request: Request, principal: OperatorDep, session: SessionDep) -> RolloutDetail:
    _command(request, principal, rollout_id, "pause")
    return detail(session, rollout_id)


@router.post("/{rollout_id}/resume")
def resume(rollout_id: str, request: Request, principal: OperatorDep, session: SessionDep) -> RolloutDetail:
    _command(request, principal, rollout_id, "resume")
    return detail(session, rollout_id)


@router.post("/{rollout_id}/abort")
def abort(
    rollout_id: str, body: AbortRequest, request: Request, principal: OperatorDep, session: SessionDep
) -> RolloutDetail:
    _command(request, principal, rollout_id, "abort", reason=body.reason)
    return detail(session, rollout_id)


@router.post("/{rollout_id}/promote")
def promote(
    rollout_id: str, body: PromoteRequest, request: Request, principal: OperatorDep, session: SessionDep
) -> RolloutDetail:
    if body.force and not principal.role.allows(Role.ADMIN):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "promote --force needs the admin role")
    _command(request, principal, rollout_id, "promote", force=body.force)
    return detail(session, rollout_id)
