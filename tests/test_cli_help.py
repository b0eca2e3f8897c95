"""Every `vigie` command, down to the leaves of every group, answers `--help` with its usage and a summary."""

from __future__ import annotations

import click
from click.testing import CliRunner

from vigie.cli import cli


def _walk(group: click.Group, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    ctx = click.Context(group, info_name=path[-1] if path else "vigie")
    found: list[tuple[str, ...]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join(path)} lists {name!r} but cannot load it"
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _walk(command, (*path, name))
    return found


def test_every_command_has_help() -> None:
    commands = _walk(cli, ())
    assert ("hub", "tuf", "rotate") in commands and ("agent", "run") in commands and len(commands) > 40
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith("Usage: "), (path, result.output)
        body = result.output.split("\n\n", 2)
        assert len(body) > 1 and body[1].strip(), f"{' '.join(path)} --help has no description"
