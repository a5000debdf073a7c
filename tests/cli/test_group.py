"""The ``lstmkit`` group: its command list says what the commands say (that listing them imports no heavy
library is checked in test_help_imports.py)."""

from __future__ import annotations

import click
from click.testing import CliRunner

from lstmkit.cli import SUBCOMMANDS, cli


def test_listed_help_is_each_commands_own() -> None:
    ctx = click.Context(cli)
    for name, (_, listed) in SUBCOMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.get_short_help_str(limit=1000) == listed, name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    rows = result.output.split("Commands:")[1].strip().splitlines()
    assert [row.split()[0] for row in rows] == sorted(SUBCOMMANDS)


def test_unknown_command_is_an_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
