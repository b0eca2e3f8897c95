"""The one access-control dependency: `require_role(role)`.

Every route under /api/v1 carries it (routers declare `dependencies=[Depends(require_role(Role.READER))]`, write
routes add a higher role). It authenticates the bearer credential (a JWT access token or a service API token),
loads the user (a disabled user or revoked token is refused at once, and the role comes from the database,
not from the token), stores the `Principal` on `request.state.principal` for the audit log, and answers
401 (with `WWW-Authenticate: Bearer`) or 403. `check_routes` refuses to start an app with an unguarded route
outside `PUBLIC_PATHS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer

from hub.security._errors import AuthenticationError, SecurityError
from hub.security.roles import Role
from hub.security.tokens import is_api_token

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", TOKEN_URL, "/api/v1/auth/refresh"})
"""Routes reachable without a credential: health, metrics, login (and refresh, which carries its own token)."""

oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    kind: Literal["human", "service"]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


class RoleGuard:
    """Callable dependency: authenticate once per request, then require `role`."""

    def __init__(self, role: Role) -> None:
        self.role = Role(role)
        self.__name__ = f"require_{self.role.value}"

    def __call__(self, request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            principal = self._authenticate(request, token)
            request.state.principal = principal
        if not principal.role.allows(self.role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this route needs the {self.role.value} role")
        return principal

    @staticmethod
    def _authenticate(request: Request, token: str | None) -> Principal:
        from hub.security.service import security_of

        if not token:
            raise unauthorized("not authenticated")
        security = security_of(request.app)
        if security is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "security layer not started")
        try:
            if is_api_token(token):
                user = security.users.resolve_token(token)
            else:
                claims = security.tokens.verify(token, "access")
                user = security.users.active(claims.subject)
        except AuthenticationError as exc:
            raise unauthorized(str(exc)) from None
        except SecurityError:
            raise unauthorized("invalid credentials") from None
        if user is None:
            raise unauthorized("unknown, disabled or revoked credentials")
        return Principal(user.name, user.role, user.kind)

    def __repr__(self) -> str:
        return f"RoleGuard({self.role.value})"


_GUARDS = {role: RoleGuard(role) for role in Role}


def require_role(role: Role) -> RoleGuard:
    """The guard for `role` (one shared instance per role)."""
    return _GUARDS[Role(role)]


def route_roles(dependant: Dependant) -> list[Role]:
    """Roles required by every RoleGuard in a route's dependency tree."""
    found: list[Role] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, RoleGuard):
            found.append(current.call.role)
        stack.extend(current.dependencies)
    return found


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """One effective route of an app (after router inclusion): path, methods, dependency tree."""

    path: str
    methods: frozenset[str]
    dependant: Dependant | None
    """None for a route that is not a FastAPI APIRoute (Starlette Route, Mount, WebSocket...)."""

    @property
    def required_role(self) -> Role | None:
        """The highest role the route requires, None if it has no guard."""
        roles = route_roles(self.dependant) if self.dependant is not None else []
        return max(roles, key=lambda r: r.rank) if roles else None


def app_routes(routes: Iterable[Any]) -> list[RouteInfo]:
    """Every effective route, with router prefixes and router-level dependencies applied.

    FastAPI >= 0.16x includes routers lazily (`app.routes` holds `_IncludedRouter`s); its own
    `iter_route_contexts` flattens them as the OpenAPI generator does. Older versions list APIRoutes.
    """
    from fastapi import routing

    iterate = getattr(routing, "iter_route_contexts", None)
    contexts: Iterable[Any] = iterate(list(routes)) if iterate is not None else routes
    found: list[RouteInfo] = []
    for context in contexts:
        original = getattr(context, "original_route", context)
        dependant = getattr(context, "dependant", None) if isinstance(original, APIRoute) else None
        path = getattr(context, "path", None) or ""
        found.append(RouteInfo(path, frozenset(getattr(context, "methods", None) or ()), dependant))
    return found


DOCS_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
PUBLIC_MOUNTS = frozenset({"/tuf", "/ui"})
"""Mounted apps readable without a credential: the TUF repository of model distribution (agents fetch it
without API credentials; every file is signed metadata or a target pinned by hash in signed metadata) and the
dashboard's static files (no data: the page calls the API with the user's token)."""


def check_routes(routes: Iterable[Any], public: frozenset[str] = PUBLIC_PATHS) -> None:
    """Raise SecurityError naming every route that has no role guard and is not public, API docs or TUF."""
    allowed = public | DOCS_PATHS
    unguarded = [
        f"{sorted(route.methods)} {route.path}"
        for route in app_routes(routes)
        if route.required_role is None
        and route.path not in allowed
        and not (route.dependant is None and route.path in PUBLIC_MOUNTS)
    ]
    if unguarded:
        raise SecurityError(f"routes without a role guard: {', '.join(unguarded)}")


PrincipalDep = Annotated[Principal, Depends(require_role(Role.READER))]
