"""`vigie hub ...`: serve, database migrations, gateway registration, settings check.

Imports at the top stay light (click only): the hub's dependencies load inside each command.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from hub.settings import HubSettings

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INVALID, EXIT_CONFIG, EXIT_RUNTIME = 1, 3, 4


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="TOML settings file (environment VIGIE_HUB_* overrides it).",
    )(func)


def _settings(config_file: Path | None, **overrides: Any) -> HubSettings:
    from hub._errors import ConfigError
    from hub.settings import load_settings

    try:
        return load_settings(config_file, **overrides)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"configuration error: {exc}")


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group()
def hub() -> None:
    """Run and administer the hub: ingest workers + REST API, database, gateway registry."""


@hub.command()
@config_option
@click.option("--host", default=None, help="Listen address (default: api.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: api.port).")
def serve(config_file: Path | None, host: str | None, port: int | None) -> None:
    """Run the API and the ingest workers until SIGINT/SIGTERM."""
    from hub._errors import ConfigError, HubError

    settings = _settings(config_file)
    from hub import logs
    from hub.settings import check_production

    logs.configure(settings.log_format, settings.log_level)
    try:
        check_production(settings)
        _run_uvicorn(settings, host or settings.api.host, settings.api.port if port is None else port)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"refusing to start: {exc}")
    except HubError as exc:
        _fail(EXIT_RUNTIME, str(exc))


def _run_uvicorn(settings: HubSettings, host: str, port: int) -> None:
    import signal

    import uvicorn

    from hub.app import create_app, tune_gc

    app = create_app(settings)
    tune_gc()
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the handlers that were
    # installed before it started: make those exit with 0, so a clean stop reports success.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_ok)
    from hub.security.tls import uvicorn_tls_kwargs  # security layer: HTTPS / trusted proxies

    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                **uvicorn_tls_kwargs(settings.security))


def _exit_ok(_signum: int, _frame: object) -> None:
    sys.exit(0)


@hub.group()
def db() -> None:
    """SQL database schema (Alembic migrations)."""


@db.command()
@config_option
def upgrade(config_file: Path | None) -> None:
    """Bring the database schema to the latest revision."""
    from hub._errors import HubError
    from hub.db.engine import make_engine
    from hub.db.migrate import current
    from hub.db.migrate import upgrade as run_upgrade

    settings = _settings(config_file)
    try:
        engine = make_engine(settings.resolved_database_url())
        run_upgrade(engine)
        click.echo(f"database at revision {current(engine)}")
    except (HubError, OSError) as exc:
        _fail(EXIT_RUNTIME, str(exc))
    except Exception as exc:  # SQLAlchemy / driver errors: report, do not trace
        _fail(EXIT_RUNTIME, f"{type(exc).__name__}: {exc}")


@hub.group()
def gateway() -> None:
    """Register and list gateways (ingest accepts only registered gateways)."""


@gateway.command("add")
@config_option
@click.argument("gateway_id")
@click.option("--site", required=True, help="Site the gateway belongs to.")
@click.option("--cohort", type=click.Choice(["green", "blue"]), default="blue", show_default=True)
@click.option("--cert", "cert_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Its client certificate (PEM): the fingerprint is recorded and the CN must be GATEWAY_ID.")
@click.option("--json", "as_json", is_flag=True, help="Print the registered gateway as JSON.")
def gateway_add(config_file: Path | None, gateway_id: str, site: str, cohort: str, cert_file: Path | None,
                as_json: bool) -> None:
    """Register GATEWAY_ID with its site and rollout cohort (green = canary)."""
    from pydantic import ValidationError

    from hub._errors import Conflict, HubError
    from hub.api.schemas import GatewayCreate

    fingerprint = _fingerprint(cert_file, gateway_id) if cert_file else None
    try:
        body = GatewayCreate(id=gateway_id, site=site, cohort=cohort, cert_fingerprint=fingerprint)
    except ValidationError as exc:
        _fail(EXIT_INVALID, f"invalid gateway: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
    try:
        record = _with_session(config_file, lambda session: _register(session, body))
    except Conflict as exc:
        _fail(EXIT_INVALID, str(exc))
    except HubError as exc:
        _fail(EXIT_RUNTIME, str(exc))
    click.echo(json.dumps(record, indent=2) if as_json else f"registered {gateway_id} (site {site}, {cohort})")


@gateway.command("list")
@config_option
@click.option("--site", default=None, help="Only this site.")
@click.option("--json", "as_json", is_flag=True, help="JSON array instead of a table.")
def gateway_list(config_file: Path | None, site: str | None, as_json: bool) -> None:
    """Registered gateways with cohort, status and last_seen."""
    from hub._errors import HubError
    from hub.crud import gateways as crud

    try:
        rows = _with_session(
            config_file, lambda s: [crud.summary(r).model_dump() for r in crud.list_(s, site=site)]
        )
    except HubError as exc:
        _fail(EXIT_RUNTIME, str(exc))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'GATEWAY':<24} {'SITE':<16} {'COHORT':<7} {'STATUS':<11} LAST_SEEN_MS")
    for r in rows:
        click.echo(f"{r['id']:<24} {r['site']:<16} {r['cohort']:<7} {r['status']:<11} {r['last_seen_ms'] or '-'}")


@hub.command("check-config")
@config_option
def check_config(config_file: Path | None) -> None:
    """Print the effective settings (secrets masked) and exit 3 if production mode would refuse them."""
    from hub.settings import production_problems

    settings = _settings(config_file)
    click.echo(settings.model_dump_json(indent=2))
    problems = production_problems(settings)
    for problem in problems:
        click.echo(f"production: {problem}", err=True)
    sys.exit(EXIT_CONFIG if problems else 0)


def _with_session(config_file: Path | None, action: Callable[[Any], Any]) -> Any:
    from hub.db.engine import make_engine, session_scope
    from hub.db.migrate import upgrade as run_upgrade

    settings = _settings(config_file)
    engine = make_engine(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            run_upgrade(engine)
        with session_scope(engine) as session:
            return action(session)
    finally:
        engine.dispose()


def _register(session: Any, body: Any) -> dict[str, Any]:
    from hub.crud import gateways as crud

    result: dict[str, Any] = crud.detail(crud.register(session, body)).model_dump()
    return result


def _fingerprint(cert_file: Path, gateway_id: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except ValueError as exc:
        _fail(EXIT_INVALID, f"{cert_file}: not a PEM certificate ({exc})")
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    if common_name != gateway_id:
        _fail(EXIT_INVALID, f"{cert_file}: certificate CN is {common_name!r}, not {gateway_id!r}")
    return cert.fingerprint(hashes.SHA256()).hex()


# Security layer: `vigie hub user add/list/disable/enable/token` (hub/security/cli.py, imports click only).
from hub.security.cli import user as _user_group  # noqa: E402

hub.add_command(_user_group)

# Model distribution: `vigie hub tuf init/status/rotate/resign` (hub/tuf_cli.py, imports click only).
from hub.tuf_cli import tuf as _tuf_group  # noqa: E402

hub.add_command(_tuf_group)
