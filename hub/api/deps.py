"""FastAPI dependencies: context, DB session, series store, and the role guard every router carries.

`require_role` is the single hook for access control: every `/api/v1` router is declared with
`dependencies=[Depends(require_role(Role.READER))]` and write routes add `require_role(Role.OPERATOR)`.
It is the security layer's guard (`hub/security/deps.py`): bearer JWT or service API token, 401/403, and the
principal recorded by the audit log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from hub.api.context import HubContext
from hub.db.engine import session_scope
from hub.security.deps import require_role  # the real role guard: JWT / API token, 401/403, audit principal
from hub.security.roles import Role
from hub.series.base import SeriesStore

__all__ = ["Role", "require_role"]


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
