"""Routes of the security layer under /api/v1: OAuth2 password login, refresh, whoami, users and API tokens.

Login and refresh are public (they carry their own credential); everything else requires a role through
`require_role`. Every login attempt and every change to users or tokens is an audit entry.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub._errors import Conflict, NotFound
from hub.security._errors import AuthenticationError, TooManyAttempts, UserError
from hub.security.deps import Principal, require_role, unauthorized
from hub.security.passwords import MAX_LENGTH, MIN_LENGTH
from hub.security.roles import Role
from hub.security.service import SecurityContext, security_of
from hub.security.users import NAME_PATTERN, TokenInfo, UserInfo

router = APIRouter(prefix="/api/v1")
_AUTH_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Bad credentials"},
    422: {"description": "Malformed request"},
    429: {"description": "Too many failed logins"},
}
_ADMIN_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Needs the admin role"},
    404: {"description": "No such user or token"},
    409: {"description": "Conflict"},
    422: {"description": "Invalid request"},
}
NAME_REGEX = NAME_PATTERN.pattern


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int
    refresh_token: str


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class Me(BaseModel):
    name: str
    role: Role
    kind: Literal["human", "service"]


class UserOut(BaseModel):
    name: str
    role: Role
    kind: Literal["human", "service"]
    disabled: bool
    created_at_ms: int


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_REGEX)
    role: Role
    kind: Literal["human"] = "human"
    password: SecretStr = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


class ServiceAccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_REGEX)
    role: Role
    kind: Literal["service"]


UserCreate = PersonCreate | ServiceAccountCreate
"""A person (`kind` omitted or "human", with a password) or a service account (`kind` "service", none)."""


class UserUpdate(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: SecretStr | None = Field(default=None, min_length=MIN_LENGTH, max_length=MAX_LENGTH)
    """People only (409 for a service account)."""


class TokenCreate(BaseModel):
    label: str = Field(min_length=1, max_length=64)
    ttl_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    user: str
    label: str
    hint: str
    created_at_ms: int
    expires_at_ms: int | None
    revoked: bool


class TokenCreated(TokenOut):
    token: str
    """Shown once; only its SHA-256 is stored."""


def _security(request: Request) -> SecurityContext:
    security = security_of(request.app)
    if security is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "security layer not started")
    return security


SecurityDep = Annotated[SecurityContext, Depends(_security)]
AdminDep = Annotated[Principal, Depends(require_role(Role.ADMIN))]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", tags=["auth"], responses=_AUTH_ERRORS)
def login(
    request: Request,
    security: SecurityDep,
    username: Annotated[str, Form(max_length=256)],
    password: Annotated[str, Form(max_length=1024)],
) -> TokenResponse:
    """OAuth2 password flow: a short-lived access token and a refresh token for a person."""
    client = _client(request)
    name = username[:64]
    try:
        security.throttle.check(f"user:{name}", f"client:{client}")
    except TooManyAttempts as exc:
        security.audit.append("auth.login", name, "", {"outcome": "throttled", "client": client})
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc),
                            headers={"Retry-After": str(exc.retry_after_s)}) from None
    user = security.users.authenticate(username, password)
    if user is None:
        security.throttle.failed(f"user:{name}", f"client:{client}")
        security.audit.append("auth.login", name, "", {"outcome": "failed", "client": client})
        raise unauthorized("wrong user name or password")
    security.throttle.succeeded(f"user:{name}")
    security.audit.append("auth.login", user.name, user.role.value, {"outcome": "ok", "client": client})
    pair = security.tokens.issue_pair(user.name, user.role)
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in,
                         refresh_token=pair.refresh_token)


@router.post("/auth/refresh", tags=["auth"], responses=_AUTH_ERRORS)
def refresh(request: Request, body: RefreshRequest, security: SecurityDep) -> TokenResponse:
    """Exchange a refresh token for a new pair; the user must still be active (its current role is used)."""
    try:
        claims = security.tokens.verify(body.refresh_token, "refresh")
    except AuthenticationError as exc:
        raise unauthorized(str(exc)) from None
    user = security.users.active(claims.subject)
    if user is None or user.kind != "human":
        raise unauthorized("unknown or disabled user")
    security.audit.append("auth.refresh", user.name, user.role.value, {"client": _client(request)})
    pair = security.tokens.issue_pair(user.name, user.role)
    return TokenResponse(access_token=pair.access_token, expires_in=pair.expires_in,
                         refresh_token=pair.refresh_token)


@router.get("/auth/me", tags=["auth"], responses={401: {"description": "Not authenticated"}})
def me(principal: Annotated[Principal, Depends(require_role(Role.READER))]) -> Me:
    """Who the bearer credential belongs to."""
    return Me(name=principal.subject, role=principal.role, kind=principal.kind)


users_router = APIRouter(prefix="/api/v1/users", tags=["users"], dependencies=[Depends(require_role(Role.ADMIN))],
                         responses=_ADMIN_ERRORS)


def _user_out(user: UserInfo) -> UserOut:
    return UserOut(name=user.name, role=user.role, kind=user.kind, disabled=user.disabled,
                   created_at_ms=user.created_at_ms)


def _token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(id=info.id, user=info.user, label=info.label, hint=info.hint, created_at_ms=info.created_at_ms,
                    expires_at_ms=info.expires_at_ms, revoked=info.revoked)


def _translate(exc: Exception) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    # Conflict, and UserError: what the request asks contradicts the user's state or kind
    # (a password for a service account, an API token for a person); the schema rules out the rest.
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


@users_router.get("")
def list_users(security: SecurityDep) -> list[UserOut]:
    """Every user and service account."""
    return [_user_out(u) for u in security.users.list_users()]


@users_router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, security: SecurityDep, admin: AdminDep) -> UserOut:
    """Add a person (with a password) or a service account (without; give it API tokens)."""
    password = body.password.get_secret_value() if isinstance(body, PersonCreate) else None
    try:
        user = security.users.add(body.name, body.role, password, body.kind)
    except (UserError, Conflict) as exc:
        raise _translate(exc) from None
    security.audit.append("user.add", admin.subject, admin.role.value,
                          {"user": user.name, "role": user.role.value, "kind": user.kind})
    return _user_out(user)


@users_router.patch("/{name}")
def update_user(name: str, body: UserUpdate, security: SecurityDep, admin: AdminDep) -> UserOut:
    """Change a user's role, disable or enable it, or set a new password."""
    changes: dict[str, object] = {}
    try:
        user = security.users.get(name)
        if user is None:
            raise NotFound(f"no user {name!r}")
        if body.role is not None:
            user = security.users.set_role(name, body.role)
            changes["role"] = body.role.value
        if body.disabled is not None:
            user = security.users.set_disabled(name, body.disabled)
            changes["disabled"] = body.disabled
        if body.password is not None:
            user = security.users.set_password(name, body.password.get_secret_value())
            changes["password_changed"] = True
    except (UserError, NotFound) as exc:
        raise _translate(exc) from None
    finally:
        if changes:
            security.audit.append("user.update", admin.subject, admin.role.value, {"user": name, **changes})
    return _user_out(user)


@users_router.get("/{name}/tokens")
def list_tokens(name: str, security: SecurityDep) -> list[TokenOut]:
    """API tokens of a service account (never the tokens themselves)."""
    try:
        return [_token_out(t) for t in security.users.tokens(name)]
    except NotFound as exc:
        raise _translate(exc) from None


@users_router.post("/{name}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(name: str, body: TokenCreate, security: SecurityDep, admin: AdminDep,
                 response: Response) -> TokenCreated:
    """A new API token for a service account. The token is in this response only."""
    try:
        token, info = security.users.create_token(name, body.label, body.ttl_days)
    except (UserError, NotFound) as exc:
        raise _translate(exc) from None
    security.audit.append("token.create", admin.subject, admin.role.value,
                          {"user": name, "token_id": info.id, "label": info.label, "hint": info.hint})
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(token=token, **_token_out(info).model_dump())


@users_router.delete("/{name}/tokens/{token_id}")
def revoke_token(name: str, token_id: int, security: SecurityDep, admin: AdminDep) -> TokenOut:
    """Revoke an API token (takes effect on the next request)."""
    try:
        info = security.users.revoke_token(name, token_id)
    except NotFound as exc:
        raise _translate(exc) from None
    security.audit.append("token.revoke", admin.subject, admin.role.value, {"user": name, "token_id": token_id})
    return _token_out(info)
