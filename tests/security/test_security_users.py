"""Users and tokens in SQL (SQLite and PostgreSQL), the `vigie hub user` commands, the migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlmodel import SQLModel

from hub._errors import Conflict, NotFound
from hub.audit.entries import parse_entry
from hub.audit.store import AuditLog
from hub.cli import hub
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from hub.security import passwords
from hub.security._errors import TooManyAttempts, UserError
from hub.security.roles import Role
from hub.security.throttle import LoginThrottle
from hub.security.users import UserStore

SECURITY_TABLES = {"users", "api_tokens", "audit_entries", "audit_checkpoints"}


def test_migration_creates_exactly_the_models(sql_url: str) -> None:
    engine = make_engine(sql_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    ours = [d for d in diff if any(t in repr(d) for t in SECURITY_TABLES)]
    assert ours == []


def test_user_store(sql_url: str) -> None:
    engine = make_engine(sql_url)
    upgrade(engine)
    users = UserStore(engine)
    users.add("alice", Role.OPERATOR, "alice-password-123")
    with pytest.raises(Conflict):
        users.add("alice", Role.READER, "another-password-1")
    with pytest.raises(UserError):
        users.add("Bad Name", Role.READER, "long-enough-password")
    with pytest.raises(UserError):
        users.add("bob", Role.READER, "short")
    with pytest.raises(UserError):
        users.add("svc", Role.READER, "a-password-for-svc", "service")
    assert users.authenticate("alice", "alice-password-123") is not None
    assert users.authenticate("alice", "wrong-password-123") is None
    assert users.authenticate("nobody", "alice-password-123") is None
    stored = users.list_users()[0]
    assert stored.name == "alice" and stored.role is Role.OPERATOR

    users.add("svc", Role.READER, None, "service")
    token, info = users.create_token("svc", "monitoring", ttl_days=1)
    assert users.resolve_token(token) is not None
    assert users.resolve_token(token + "x") is None
    with pytest.raises(UserError):
        users.create_token("alice", "no")
    users.revoke_token("svc", info.id)
    assert users.resolve_token(token) is None
    with pytest.raises(NotFound):
        users.revoke_token("alice", info.id)
    token2, _ = users.create_token("svc", "second")
    users.set_disabled("svc")
    assert users.resolve_token(token2) is None
    assert users.active("svc") is None
    users.set_disabled("alice")
    assert users.authenticate("alice", "alice-password-123") is None
    engine.dispose()


def test_password_hashes_are_argon2id() -> None:
    hashed = passwords.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "correct horse battery")
    assert not passwords.verify_password(hashed, "correct horse batterY")
    assert not passwords.verify_password(None, "correct horse battery")
    assert not passwords.verify_password("not-a-hash", "x")


def test_login_throttle_locks_and_expires() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=2, lockout_s=60, clock=lambda: now[0])
    throttle.failed("user:a", "client:1")
    throttle.check("user:a")
    throttle.failed("user:a", "client:1")
    with pytest.raises(TooManyAttempts):
        throttle.check("user:b", "client:1")
    now[0] += 61
    throttle.check("user:a", "client:1")


def test_user_commands(sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_HUB_DATABASE_URL", sql_url)
    monkeypatch.setenv("VIGIE_HUB_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    added = runner.invoke(hub, ["user", "add", "carol", "--role", "admin", "--password-stdin"],
                          input="carol-password-123\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(hub, ["user", "add", "carol", "--role", "admin", "--password-stdin"],
                         input="carol-password-123\n").exit_code == 1
    assert runner.invoke(hub, ["user", "add", "dave", "--role", "reader", "--password-stdin"],
                         input="short\n").exit_code == 1
    assert runner.invoke(hub, ["user", "add", "robot", "--role", "operator", "--service"]).exit_code == 0
    token = runner.invoke(hub, ["user", "token", "robot", "--label", "ci"])
    assert token.exit_code == 0 and token.output.startswith("vigie_sa_")
    listed = runner.invoke(hub, ["user", "list", "--json"])
    assert [u["name"] for u in __import__("json").loads(listed.output)] == ["carol", "robot"]
    assert runner.invoke(hub, ["user", "disable", "carol"]).exit_code == 0
    assert runner.invoke(hub, ["user", "disable", "nobody"]).exit_code == 1
    assert "disabled" in runner.invoke(hub, ["user", "list"]).output

    engine = make_engine(sql_url)
    entries = [parse_entry(r.canonical) for r in AuditLog(engine, origin="x").entries(0, 100)]
    engine.dispose()
    assert [(e.type, e.data.get("user")) for e in entries] == [
        ("user.add", "carol"), ("user.add", "robot"), ("token.create", "robot"), ("user.update", "carol")]
    assert all(e.actor.startswith("cli:") for e in entries)
    assert token.output.strip() not in str([e.document() for e in entries])
