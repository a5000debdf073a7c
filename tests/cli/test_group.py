"""The ``lstmkit`` group: its command list says what the commands say (that listing them imports no heavy
library is checked in test_help_imports.py)."""

from __future__ import annotations

import errno

import click
import pytest
from click.testing import CliRunner

from lstmkit.cli import SUBCOMMANDS, LazyGroup, cli


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


@pytest.mark.parametrize(
    ("error", "line"),
    [
        pytest.param(
            PermissionError(errno.EACCES, "Permission denied", "/sys/out.onnx"),
            "Permission denied: '/sys/out.onnx'",
            id="errno-and-file",
        ),
        pytest.param(
            OSError(errno.EXDEV, "Invalid cross-device link", "a", None, "b"),
            "Invalid cross-device link: 'a' -> 'b'",
            id="two-files",
        ),
        pytest.param(
            PermissionError(errno.EACCES, "cannot write '/sys/x.csv': Permission denied"),
            "cannot write '/sys/x.csv': Permission denied",
            id="errno-only",
        ),
        pytest.param(
            FileNotFoundError("no data file at 'missing.csv'"),
            "no data file at 'missing.csv'",
            id="own-message",
        ),
    ],
)
def test_os_errors_are_one_line_naming_the_file(error: OSError, line: str) -> None:
    class Group(LazyGroup):  # LazyGroup's error handling, with a command that is not in SUBCOMMANDS
        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            return self.commands.get(cmd_name)

    @click.command()
    def fails() -> None:
        raise error

    result = CliRunner().invoke(Group(commands={"fails": fails}), ["fails"])
    assert result.exit_code == 2
    assert result.output == f"lstmkit: error: {line}\n"
