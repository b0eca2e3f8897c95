"""`vigie agent`: run the edge agent or check a gateway config file.

Exit codes: 0 ok, 2 usage, 3 configuration error (file, field and reason on stderr), 4 runtime failure.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from edge_agent._errors import AgentError, ConfigError
from edge_agent.config import LoadedConfig, load_config

EXIT_CONFIG = 3
EXIT_RUNTIME = 4


@click.group("agent", context_settings={"help_option_names": ["-h", "--help"]})
def agent() -> None:
    """Run or check the edge agent of a site gateway."""


@agent.command("run")
@click.option("--config", "config_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Gateway config, e.g. firmware_configs/paris/paris-gw-01.toml.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the outbox and model store live (overrides gateway.state_dir).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def run(config_file: Path, state_dir: Path | None, log_level: str) -> None:
    """Run the agent until SIGTERM/SIGINT (then flush the outbox state and publish online=false)."""
    loaded = _load_or_exit(config_file, state_dir, check_files=True)
    from edge_agent import logs
    from edge_agent.agent import Agent

    logs.configure(log_level, loaded.agent.gateway.id)
    try:
        instance = Agent(loaded)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"config error: {exc}")
    except (AgentError, OSError) as exc:
        _fail(EXIT_RUNTIME, f"cannot start the agent: {exc}")

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        instance.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        instance.run()
    except AgentError as exc:
        _fail(EXIT_RUNTIME, f"agent failed: {exc}")


@agent.command("check-config")
@click.argument("config_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--no-files", is_flag=True, help="Check the schema only, not that certificates/keys/CSV files exist.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check_config(config_file: Path, no_files: bool, as_json: bool) -> None:
    """Validate a gateway config; exit 3 with the file, the field and the reason when it is wrong."""
    try:
        loaded = load_config(config_file, check_files=not no_files)
    except ConfigError as exc:
        if as_json:
            click.echo(json.dumps({"ok": False, "file": exc.file, "field": exc.field, "reason": exc.reason}))
            sys.exit(EXIT_CONFIG)
        _fail(EXIT_CONFIG, f"config error: {exc}")
    summary = _summary(loaded)
    if as_json:
        click.echo(json.dumps({"ok": True, **summary}))
    else:
        click.echo(f"{config_file}: ok ({summary['gateway']} at {summary['site']}, "
                   f"{summary['equipment']} equipment, state in {summary['state_dir']})")


def _summary(loaded: LoadedConfig) -> dict[str, object]:
    cfg = loaded.agent
    return {
        "gateway": cfg.gateway.id,
        "site": cfg.gateway.site,
        "equipment": len(cfg.equipment),
        "sources": sorted({e.source.type for e in cfg.equipment}),
        "state_dir": str(loaded.state_dir),
        "outbox": str(cfg.outbox.path),
    }


def _load_or_exit(path: Path, state_dir: Path | None, check_files: bool) -> LoadedConfig:
    try:
        return load_config(path, state_dir=state_dir, check_files=check_files)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"config error: {exc}")


def _fail(code: int, message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)
