"""The ``lstmkit`` command line.

Each subcommand lives in its own module and is imported only when it runs (click's lazy-group recipe),
so ``lstmkit --help`` stays fast. Errors from the library (``ValueError``, ``TypeError``, missing files)
become one readable line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# subcommand name -> "module:attribute" of a click.Command
SUBCOMMANDS: dict[str, str] = {
    "check": "lstmkit.cli.check:check",
    "forecast": "lstmkit.cli.forecast:forecast",
    "predict": "lstmkit.cli.predict:predict",
    "classify": "lstmkit.cli.classify:classify",
    "text": "lstmkit.cli.text:text",
    "gates": "lstmkit.cli.inspect:gates",
    "bench": "lstmkit.cli.bench:bench",
    "export": "lstmkit.cli.export:export",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is {type(command).__name__}, expected a click.Command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ValueError, TypeError, FileNotFoundError, KeyError) as err:
            message = err.args[0] if isinstance(err, KeyError) and err.args else err
            click.echo(f"lstmkit: error: {message}", err=True)
            sys.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstmkit")
def cli() -> None:
    """lstmkit: LSTM networks, correct and fast, with honest forecasting and classification kits."""


def main() -> None:
    """Console-script entry point."""
    cli()
