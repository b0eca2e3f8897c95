"""`vigie hub user ...`: people and service accounts of the API (added to the `hub` group by hub/cli.py).

Every change is an audit entry (actor `cli:<login>`); the hub's next checkpoint covers it.
Passwords are read from a hidden prompt or from stdin (`--password-stdin`), never from the command line.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INVALID, EXIT_CONFIG, EXIT_RUNTIME = 1, 3, 4
ROLES = ["reader", "operator", "admin"]


def _config_option(func: F) -> F:
    return click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help="TOML settings file (environment VIGIE_HUB_* overrides it).")(func)


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@contextmanager
def _context(config_file: Path | None) -> Iterator[tuple[Any, Any]]:
    """(UserStore, AuditLog) over the configured database; errors become exit codes."""
    from hub._errors import ConfigError, Conflict, DatabaseError, HubError, NotFound
    from hub.audit.store import AuditLog
    from hub.db.engine import make_engine
    from hub.db.migrate import upgrade
    from hub.security._errors import UserError
    from hub.security.users import UserStore
    from hub.settings import load_settings

    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"configuration error: {exc}")
    engine = make_engine(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        yield UserStore(engine), AuditLog(engine, origin=settings.security.audit_origin)
    except (UserError, Conflict, NotFound) as exc:
        _fail(EXIT_INVALID, str(exc))
    except (DatabaseError, HubError, OSError) as exc:
        _fail(EXIT_RUNTIME, str(exc))
    finally:
        engine.dispose()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@click.group("user")
def user() -> None:
    """People (password login, short-lived tokens) and service accounts (API tokens) of the hub API."""


@user.command("add")
@_config_option
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="reader < operator < admin.")
@click.option("--service", is_flag=True, help="A service account: no password, use `vigie hub user token`.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add(config_file: Path | None, name: str, role: str, service: bool, password_stdin: bool) -> None:
    """Add a person (asks for a password, 12+ characters) or a service account."""
    from hub.security.roles import Role

    password = None if service else _read_password(password_stdin)
    with _context(config_file) as (users, audit):
        info = users.add(name, Role(role), password, "service" if service else "human")
        audit.append("user.add", _actor(), "", {"user": info.name, "role": info.role.value, "kind": info.kind})
    click.echo(f"added {info.kind} {info.name} ({info.role.value})")


@user.command("list")
@_config_option
@click.option("--json", "as_json", is_flag=True, help="JSON array instead of a table.")
def list_(config_file: Path | None, as_json: bool) -> None:
    """Users with role, kind and state."""
    with _context(config_file) as (users, _audit):
        rows = [u.to_json() for u in users.list_users()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'NAME':<32} {'ROLE':<9} {'KIND':<8} STATE")
    for r in rows:
        click.echo(f"{r['name']:<32} {r['role']:<9} {r['kind']:<8} {'disabled' if r['disabled'] else 'active'}")


@user.command("disable")
@_config_option
@click.argument("name")
def disable(config_file: Path | None, name: str) -> None:
    """Disable a user: its tokens stop working on the next request."""
    with _context(config_file) as (users, audit):
        users.set_disabled(name, True)
        audit.append("user.update", _actor(), "", {"user": name, "disabled": True})
    click.echo(f"disabled {name}")


@user.command("enable")
@_config_option
@click.argument("name")
def enable(config_file: Path | None, name: str) -> None:
    """Enable a disabled user again."""
    with _context(config_file) as (users, audit):
        users.set_disabled(name, False)
        audit.append("user.update", _actor(), "", {"user": name, "disabled": False})
    click.echo(f"enabled {name}")


@user.command("token")
@_config_option
@click.argument("name")
@click.option("--label", required=True, help="What the token is for (shown in listings).")
@click.option("--ttl-days", type=click.IntRange(1, 3650), default=None, help="Expiry (default: never).")
def token(config_file: Path | None, name: str, label: str, ttl_days: int | None) -> None:
    """Create an API token for service account NAME and print it (once: only its hash is stored)."""
    with _context(config_file) as (users, audit):
        secret, info = users.create_token(name, label, ttl_days)
        audit.append("token.create", _actor(), "",
                     {"user": name, "token_id": info.id, "label": info.label, "hint": info.hint})
    click.echo(secret)
