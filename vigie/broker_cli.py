"""`vigie broker`: generate the Mosquitto configuration of a site (see `vigie.broker` for the choices)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vigie import broker as lib
from vigie._errors import BrokerConfigError
from vigie.cli import ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def broker() -> None:
    """Mosquitto 2.0 configuration for Vigie.

    \b
    One mutual-TLS listener (no plain listener), certificate CN = MQTT username, per-gateway ACLs
    (a gateway writes only vigie/v1/<id>/up/#, reads only vigie/v1/<id>/down/#; the hub vigie-hub
    reads every up/, also as $share/<group>/..., and writes every down/), CRL checking and queue
    limits that never drop a message silently. Run it with `mosquitto -c DIR/mosquitto.conf`.
    """


@broker.command("config")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=lib.DEFAULT_PORT, show_default=True,
              help="TLS listener port.")
@click.option("--pki", "pki_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="PKI directory made by `vigie pki init` [default: DIRECTORY].")
@click.option("--bind", default=lib.DEFAULT_BIND, show_default=True,
              help="Address to listen on (0.0.0.0 or a site LAN address for real gateways).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Enable persistence (sessions, queued and retained messages survive restarts) in this dir.")
@click.option("--user", default=lib.DEFAULT_USER, show_default=True,
              help="User Mosquitto switches to when started as root; it must be able to read the broker key "
                   "(use `root` only for tests and local dev).")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Log to this file instead of stderr.")
@click.option("--max-queued", "max_queued", type=click.IntRange(min=0), default=0, show_default=True,
              help="Per-client queue limit; 0 = none (a full queue drops messages the agent already deleted).")
@click.option("--max-inflight", "max_inflight", type=click.IntRange(min=0), default=lib.DEFAULT_MAX_INFLIGHT,
              show_default=True, help="Per-client window of unacknowledged QoS 1 messages.")
@click.option("--json", "as_json", is_flag=True, help="Print the written paths as JSON.")
def config_cmd(directory: Path, port: int, pki_dir: Path | None, bind: str, data_dir: Path | None, user: str,
               log_file: Path | None, max_queued: int, max_inflight: int, as_json: bool) -> None:
    """Write DIRECTORY/mosquitto.conf and DIRECTORY/acl. Exit code 3 if the PKI is missing or incomplete."""
    try:
        settings = lib.settings_for(directory, port=port, pki_dir=pki_dir, bind=bind, user=user, data_dir=data_dir,
                                    log_file=log_file, max_queued_messages=max_queued,
                                    max_inflight_messages=max_inflight)
        files = lib.write_broker_config(directory, settings)
    except BrokerConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.CONFIG)
    if as_json:
        click.echo(json.dumps(files.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(f"wrote {files.config} and {files.acl} (TLS listener {bind}:{port})")
        click.echo(f"run: mosquitto -c {files.config}")
