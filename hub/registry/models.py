"""Registry tables: one row per published model version (the bytes live in the TUF repository)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel


class ModelVersionRecord(SQLModel, table=True):
    __tablename__ = "model_versions"

    name: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=64)
    bundle_sha256: str = Field(max_length=64)
    """sha256 of the canonical .tar (the TUF target)."""
    bundle_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    model_sha256: str = Field(max_length=64)
    signer_keyid: str = Field(max_length=64)
    target_path: str = Field(max_length=200)
    manifest: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    published_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    published_by: str = Field(max_length=64)
    deprecated: bool = False
    deprecated_reason: str = Field(default="", max_length=1000)
    deprecated_at_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
