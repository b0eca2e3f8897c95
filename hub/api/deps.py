"""FastAPI dependencies: context, DB session, series store, and the role guard every router carries.

`require_role` is the single hook for access control: every `/api/v1` router is declared with
`dependencies=[Depends(require_role(Role.READER))]` and write routes add `require_role(Role.OPERATOR)`.
It is a placeholder that allows everything; the security layer (`hub/security/`) replaces its body
(JWT bearer check + audit) without touching the routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from hub.api.context import HubContext
from hub.db.engine import session_scope
from hub.series.base import SeriesStore


class Role(StrEnum):
    READER = "reader"
    OPERATOR = "operator"
    ADMIN = "admin"


def require_role(role: Role) -> Callable[[Request], None]:
    """Dependency factory: the caller must hold `role` (placeholder: allows every request for now)."""

    def check(request: Request) -> None:
        request.state.required_role = role

    check.__name__ = f"require_{role.value}"
    return check


def get_context(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


def get_session(context: Annotated[HubContext, Depends(get_context)]) -> Iterator[Session]:
    with session_scope(context.engine) as session:
        yield session


def get_store(context: Annotated[HubContext, Depends(get_context)]) -> SeriesStore:
    return context.store


ContextDep = Annotated[HubContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]
StoreDep = Annotated[SeriesStore, Depends(get_store)]
READER = Depends(require_role(Role.READER))
OPERATOR = Depends(require_role(Role.OPERATOR))
