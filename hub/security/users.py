"""Users and service API tokens in SQL (sync, over the hub's engine)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from hub._errors import Conflict, NotFound
from hub.db.engine import session_scope
from hub.security import passwords
from hub.security._errors import UserError
from hub.security.models import ApiTokenRecord, UserRecord
from hub.security.roles import Role
from hub.security.tokens import api_token_digest, new_api_token

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
UserKind = Literal["human", "service"]


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    role: Role
    kind: UserKind
    disabled: bool
    created_at_ms: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role.value, "kind": self.kind, "disabled": self.disabled,
                "created_at_ms": self.created_at_ms}


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    user: str
    label: str
    hint: str
    created_at_ms: int
    expires_at_ms: int | None
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "label": self.label, "hint": self.hint,
                "created_at_ms": self.created_at_ms, "expires_at_ms": self.expires_at_ms, "revoked": self.revoked}


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise UserError("user names are 1-64 characters: a-z, 0-9, '.', '_', '@', '-' (not first)")
    return name


def _info(record: UserRecord) -> UserInfo:
    kind: UserKind = "service" if record.kind == "service" else "human"
    return UserInfo(record.name, Role(record.role), kind, record.disabled, record.created_at_ms)


def _token_info(record: ApiTokenRecord, user: str) -> TokenInfo:
    assert record.id is not None
    return TokenInfo(record.id, user, record.label, record.hint, record.created_at_ms, record.expires_at_ms,
                     record.revoked)


class UserStore:
    def __init__(self, engine: Engine, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self.engine = engine
        self._now = clock_ms

    def add(self, name: str, role: Role, password: str | None = None, kind: UserKind = "human") -> UserInfo:
        """A new user; humans need a password (policy-checked), service accounts must not have one."""
        check_name(name)
        if (kind == "human") != (password is not None):
            raise UserError("a person needs a password; a service account uses API tokens instead")
        hashed = passwords.hash_password(password) if password is not None else None
        now = self._now()
        with session_scope(self.engine) as session:
            if self._find(session, name) is not None:
                raise Conflict(f"user {name!r} already exists")
            record = UserRecord(name=name, role=role.value, kind=kind, password_hash=hashed,
                                created_at_ms=now, updated_at_ms=now)
            session.add(record)
            session.flush()
            return _info(record)

    def get(self, name: str) -> UserInfo | None:
        with session_scope(self.engine) as session:
            record = self._find(session, name)
            return _info(record) if record is not None else None

    def list_users(self) -> list[UserInfo]:
        with session_scope(self.engine) as session:
            return [_info(r) for r in session.exec(select(UserRecord).order_by(col(UserRecord.name)))]

    def set_disabled(self, name: str, disabled: bool = True) -> UserInfo:
        return self._update(name, disabled=disabled)

    def set_role(self, name: str, role: Role) -> UserInfo:
        return self._update(name, role=role.value)

    def set_password(self, name: str, password: str) -> UserInfo:
        hashed = passwords.hash_password(password)
        with session_scope(self.engine) as session:
            record = self._require(session, name)
            if record.kind != "human":
                raise UserError(f"{name!r} is a service account: it has API tokens, not a password")
            record.password_hash, record.updated_at_ms = hashed, self._now()
            session.add(record)
            return _info(record)

    def authenticate(self, name: str, password: str) -> UserInfo | None:
        """The active person `name` if `password` is right; None otherwise (same work whether `name` exists)."""
        with session_scope(self.engine) as session:
            record = self._find(session, name) if NAME_PATTERN.fullmatch(name) else None
            stored = record.password_hash if record is not None and record.kind == "human" else None
            if not passwords.verify_password(stored, password) or record is None or record.disabled:
                return None
            if passwords.needs_rehash(stored or ""):
                record.password_hash = passwords.hash_password(password)
                session.add(record)
            return _info(record)

    def active(self, name: str) -> UserInfo | None:
        user = self.get(name)
        return user if user is not None and not user.disabled else None

    def create_token(self, name: str, label: str, ttl_days: int | None = None) -> tuple[str, TokenInfo]:
        """A new API token for service account `name`: (the token, shown once; its metadata)."""
        token, digest = new_api_token()
        now = self._now()
        with session_scope(self.engine) as session:
            user = self._require(session, name)
            if user.kind != "service":
                raise UserError(f"{name!r} is a person: API tokens are for service accounts")
            assert user.id is not None
            record = ApiTokenRecord(user_id=user.id, label=label[:64], digest=digest, hint=token[:13],
                                    created_at_ms=now,
                                    expires_at_ms=now + ttl_days * 86_400_000 if ttl_days else None)
            session.add(record)
            session.flush()
            return token, _token_info(record, name)

    def resolve_token(self, token: str) -> UserInfo | None:
        """The active service account owning `token`, if the token is known, unrevoked and unexpired."""
        with session_scope(self.engine) as session:
            row = session.exec(
                select(ApiTokenRecord, UserRecord)
                .join(UserRecord, col(UserRecord.id) == col(ApiTokenRecord.user_id))
                .where(col(ApiTokenRecord.digest) == api_token_digest(token))
            ).first()
            if row is None:
                return None
            record, user = row
            expired = record.expires_at_ms is not None and record.expires_at_ms <= self._now()
            if record.revoked or expired or user.disabled:
                return None
            return _info(user)

    def tokens(self, name: str) -> list[TokenInfo]:
        with session_scope(self.engine) as session:
            user = self._require(session, name)
            records = session.exec(select(ApiTokenRecord).where(col(ApiTokenRecord.user_id) == user.id))
            return [_token_info(r, name) for r in records]

    def revoke_token(self, name: str, token_id: int) -> TokenInfo:
        with session_scope(self.engine) as session:
            user = self._require(session, name)
            record = session.get(ApiTokenRecord, token_id)
            if record is None or record.user_id != user.id:
                raise NotFound(f"user {name!r} has no token {token_id}")
            record.revoked = True
            session.add(record)
            return _token_info(record, name)

    def _update(self, name: str, **changes: Any) -> UserInfo:
        with session_scope(self.engine) as session:
            record = self._require(session, name)
            for key, value in changes.items():
                setattr(record, key, value)
            record.updated_at_ms = self._now()
            session.add(record)
            return _info(record)

    @staticmethod
    def _find(session: Session, name: str) -> UserRecord | None:
        return session.exec(select(UserRecord).where(col(UserRecord.name) == name)).first()

    def _require(self, session: Session, name: str) -> UserRecord:
        record = self._find(session, name)
        if record is None:
            raise NotFound(f"no user {name!r}")
        return record
