"""The single `vigie` command line.

Sub-command groups are imported lazily so that `vigie agent run` on a gateway never imports the hub's
or the trainer's dependencies (and `vigie --help` stays fast).

Exit codes: 0 success, 1 a verification said "invalid", 2 usage error, 3 configuration error,
4 runtime failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from enum import IntEnum

import click

from vigie import __version__


class ExitCode(IntEnum):
    OK = 0
    INVALID = 1
    USAGE = 2
    CONFIG = 3
    RUNTIME = 4


_COMMANDS: dict[str, tuple[str, str]] = {
    "pki": ("vigie.pki_cli:pki", "Certificates: root CA, device CA, broker, hub and gateway certs, CRL."),
    "broker": ("vigie.broker_cli:broker", "Mosquitto configuration (mTLS listener, ACLs, queue limits)."),
    "model": ("model_export.cli:model", "Train, evaluate, benchmark, sign, verify and publish model bundles."),
    "agent": ("edge_agent.cli:agent", "Run or check the edge agent of a site gateway."),
    "hub": ("hub.cli:hub", "Run and administer the hub (ingest, API, users)."),
    "audit": ("hub.audit_cli:audit", "Export and verify the signed audit log offline."),
    "rollout": ("hub.rollout_cli:rollout", "Roll a model version out green-then-blue, with gates."),
    "demo": ("vigie.demo:demo", "Run a local hub with simulated gateways for Paris, Lyon and Toulouse."),
}

_EXTENSIONS: dict[str, str] = {
    # model lifecycle: `vigie model publish | versions | show | deprecate` talk to the hub registry API
    "model": "hub.registry.cli:COMMANDS",
}
"""Commands added to a group from another package (skipped when that package's extra is not installed)."""


class LazyGroup(click.Group):
    """A group whose sub-commands are imported when first used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module_name, attr = target[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"'vigie {cmd_name}' needs an optional dependency that is not installed ({exc.name}); "
                "install the matching extra, e.g. `pip install vigie[hub]` or `vigie[export]`"
            ) from None
        command: click.Command = getattr(module, attr)
        _extend(cmd_name, command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _extend(name: str, command: click.Command) -> None:
    target = _EXTENSIONS.get(name)
    if target is None or not isinstance(command, click.Group):
        return
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # e.g. a gateway install without the hub extra: the group works without them
        return
    for extra in getattr(module, attr):
        command.add_command(extra)


def _available(name: str) -> bool:
    module_name = _COMMANDS[name][0].split(":")[0]
    return importlib.util.find_spec(module_name.split(".")[0]) is not None and _module_exists(module_name)


def _module_exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="vigie")
def cli() -> None:
    """Vigie: anomaly detection on industrial equipment, from edge gateways to the hub.

    Every command has --help. Exit codes: 0 ok, 1 invalid (a verification failed), 2 usage error,
    3 configuration error, 4 runtime failure.
    """


def main() -> None:
    sys.exit(cli.main(prog_name="vigie", standalone_mode=True))


if __name__ == "__main__":
    main()
