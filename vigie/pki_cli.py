"""`vigie pki`: the certificates of a Vigie site (see `vigie.pki` for the hierarchy and the files)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from vigie import pki as lib
from vigie._errors import PkiError
from vigie.cli import ExitCode

P = ParamSpec("P")
R = TypeVar("R")

_DIR = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
_JSON = click.option("--json", "as_json", is_flag=True, help="Print a JSON document instead of a summary.")


def _translate(func: Callable[P, R]) -> Callable[P, R]:
    """Turn PkiError into a one-line message and exit code 3 (configuration error)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PkiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.CONFIG)

    return wrapper


def _gateway_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return lib.check_gateway_id(value)
    except PkiError as exc:
        raise click.BadParameter(str(exc)) from None


def _emit(doc: dict[str, Any], as_json: bool, summary: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    else:
        for line in summary:
            click.echo(line)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def pki() -> None:
    """Manage the site PKI used for MQTT mutual TLS.

    \b
    Hierarchy: Root CA -> Service CA (broker server cert, hub client cert CN=vigie-hub)
                       -> Device CA  (one client cert per gateway, CN = gateway id)
    Mosquitto uses DIR/ca.crt as `cafile`, DIR/broker.crt|key and DIR/crl.pem (see `vigie broker config`).
    Private keys are written with mode 0600 and never printed. Exit code 3 on PKI errors.
    """


@pki.command("init", short_help="Create the PKI: root, service and device CAs, broker and hub certs, CRL.")
@_DIR
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="Extra DNS name or IP for the broker certificate (repeatable); "
                   "localhost, 127.0.0.1 and ::1 are always included.")
@click.option("--days", default=lib.DEFAULT_LEAF_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Validity of the broker and hub certificates.")
@click.option("--ca-days", default=lib.DEFAULT_CA_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Validity of the root and intermediate CAs.")
@click.option("--force", is_flag=True,
              help="Replace an existing PKI (every certificate issued from it stops being trusted).")
@_JSON
@_translate
def init_cmd(directory: Path, hosts: tuple[str, ...], days: int, ca_days: int, force: bool, as_json: bool) -> None:
    """Create a PKI in DIRECTORY: root CA, service and device CAs, broker and hub certs, empty CRL.

    Running it again on a complete PKI changes nothing (exit 0, "created": false), unless the broker
    certificate lacks a requested --host (exit 3: use --force to recreate).
    """
    result = lib.init_pki(directory, hosts=hosts, days=days, ca_days=ca_days, force=force)
    p = result.paths
    verb = "created" if result.created else "already present, unchanged"
    _emit(result.to_json(), as_json, [
        f"PKI {verb}: {p.root}",
        f"  CA bundle (broker cafile, client trust): {p.ca_bundle}",
        f"  broker cert/key: {p.broker_cert} {p.broker_key}  SANs: {', '.join(result.broker_sans)}",
        f"  hub cert/key (CN={lib.HUB_CN}): {p.hub_cert} {p.hub_key}",
        f"  CRL: {p.crl}",
    ])


@pki.command("issue", short_help="Issue a gateway client certificate (CN = gateway id).")
@_DIR
@click.argument("gateway_id", callback=_gateway_id)
@click.option("--days", default=lib.DEFAULT_LEAF_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Validity of the certificate.")
@click.option("--force", is_flag=True, help="Issue even if the gateway already holds a valid certificate "
                                            "(renewal; revoke the old one if it must stop working).")
@_JSON
@_translate
def issue_cmd(directory: Path, gateway_id: str, days: int, force: bool, as_json: bool) -> None:
    """Issue the client certificate of GATEWAY_ID (CN = gateway id = MQTT username), signed by the device CA.

    GATEWAY_ID: 1-64 letters, digits or '-' (not first or last); vigie-hub and vigie-broker are reserved.
    Writes DIRECTORY/gateways/GATEWAY_ID.crt and .key (0600).
    """
    issued = lib.issue_gateway(directory, gateway_id, days=days, overwrite=force)
    _emit(issued.to_json(), as_json, [
        f"issued {gateway_id}: serial {issued.serial:x}, valid until {issued.not_valid_after.isoformat()}",
        f"  cert: {issued.cert}",
        f"  key:  {issued.key}",
    ])


@pki.command("revoke", short_help="Revoke a gateway's certificates and rewrite the CRL.")
@_DIR
@click.argument("gateway_id", callback=_gateway_id)
@_JSON
@_translate
def revoke_cmd(directory: Path, gateway_id: str, as_json: bool) -> None:
    """Revoke every certificate of GATEWAY_ID and rewrite DIRECTORY/crl.pem.

    Mosquitto reads the CRL when it starts: restart the broker (or send it SIGHUP) afterwards.
    """
    serials = lib.revoke_gateway(directory, gateway_id)
    crl = lib.PkiPaths(directory).crl
    _emit({"gateway": gateway_id, "revoked_serials": [f"{s:x}" for s in serials], "crl": str(crl)}, as_json,
          [f"revoked {gateway_id}: serial(s) {', '.join(f'{s:x}' for s in serials)}; CRL rewritten: {crl}",
           "  restart the broker (or send it SIGHUP) so that it reads the new CRL"])


@pki.command("crl", short_help="Regenerate the CRL before it expires.")
@_DIR
@click.option("--days", default=lib.DEFAULT_CRL_DAYS, show_default=True, type=click.IntRange(min=1),
              help="Validity (nextUpdate) of the new CRL.")
@_JSON
@_translate
def crl_cmd(directory: Path, days: int, as_json: bool) -> None:
    """Regenerate DIRECTORY/crl.pem with the same revocations and a new validity.

    Run it before the current CRL's nextUpdate: past that date the broker refuses every client.
    """
    path = lib.write_crl(directory, days=days)
    _emit({"crl": str(path), "days": days}, as_json, [f"CRL rewritten: {path} (valid {days} days)"])
