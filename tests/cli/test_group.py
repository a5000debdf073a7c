"""The ``lstmkit`` group: its command list, read without importing the commands, says what they say."""

from __future__ import annotations

import subprocess
import sys

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


def test_help_imports_no_command() -> None:
    # torch, pandas, matplotlib and the ONNX exporter took 5.5 s to import for a screen of text
    code = (
        "import sys\n"
        "from lstmkit.cli import cli\n"
        "try:\n"
        "    cli(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_an_error() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.output
