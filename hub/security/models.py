"""Tables of the security layer: users (people and service accounts) and service API tokens.

Timestamps are epoch milliseconds, as in the rest of the hub. Registered on SQLModel.metadata like the hub's
tables; the Alembic revision that creates them lives in hub/migrations/versions.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel


class UserRecord(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=16)
    kind: str = Field(default="human", max_length=8)
    """human (password login) | service (API tokens only)."""
    password_hash: str | None = Field(default=None, max_length=256)
    disabled: bool = False
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class ApiTokenRecord(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    label: str = Field(max_length=64)
    digest: str = Field(max_length=64, unique=True, index=True)
    """SHA-256 (hex) of the token; the token itself is never stored."""
    hint: str = Field(max_length=16)
    """The first characters of the token, to recognise it in listings."""
    created_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    expires_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    revoked: bool = False
