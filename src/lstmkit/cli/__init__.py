"""The ``lstmkit`` command line.

Each subcommand lives in its own module and is imported only when it runs (click's lazy-group recipe),
so ``lstmkit --help`` stays fast. Errors from the library (``ValueError``, ``TypeError``, missing files)
and from the file system (an ``OSError`` such as a folder that cannot be written in) become one readable
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

# subcommand name -> ("module:attribute" of a click.Command, its one-line help for `lstmkit --help`)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "bench": ("lstmkit.cli.bench:bench", "Benchmarks that train small models and print tables."),
    "check": (
        "lstmkit.cli.check:check",
        "Print versions and active kernels, and check every backend against torch.nn.LSTM.",
    ),
    "classify": (
        "lstmkit.cli.classify:classify",
        "Train a classifier on TRAIN (.ts or .csv), score it on TEST beside 1-NN DTW and the majority class.",
    ),
    "export": (
        "lstmkit.cli.export:export",
        "Export the model saved at MODEL_PATH (Sequential.save) to the ONNX file OUT.",
    ),
    "forecast": (
        "lstmkit.cli.forecast:forecast",
        "Train an LSTM forecaster on DATA (a CSV), backtest it against the baselines, and save it.",
    ),
    "gates": (
        "lstmkit.cli.inspect:gates",
        "Record the LSTM gates of the saved MODEL on DATA and draw heat maps, forget-gate histograms.",
    ),
    "predict": (
        "lstmkit.cli.predict:predict",
        "Apply the saved model MODEL to DATA and print (or write) its predictions.",
    ),
    "text": ("lstmkit.cli.text:text", "Sentence classification (sentiment, topics) with a BiLSTM."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use.

    ``lstmkit --help`` lists them from :data:`SUBCOMMANDS` without importing any: click's own listing asks
    every command for its help, which imported torch, pandas, matplotlib and the ONNX exporter (5.5 s
    on a slow machine) to print a screen of text. A test keeps the listed help equal to each command's.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry[0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry[0]} is {type(command).__name__}, expected a click.Command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(name, click.utils.make_default_short_help(SUBCOMMANDS[name][1], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ValueError, TypeError, OSError, KeyError) as err:
            if isinstance(err, OSError):
                message: object = describe_os_error(err)
            else:
                message = err.args[0] if isinstance(err, KeyError) and err.args else err
            click.echo(f"lstmkit: error: {message}", err=True)
            sys.exit(2)


def describe_os_error(err: OSError) -> str:
    """``Permission denied: '/sys/out.onnx'``: the reason and the file(s) of an ``OSError``, without the
    ``[Errno 13]`` prefix; a message of lstmkit's own (no ``strerror``) as it is."""
    if err.strerror is None:
        return str(err)
    files = [f"'{name}'" for name in (err.filename, err.filename2) if name is not None]
    return f"{err.strerror}: {' -> '.join(files)}" if files else err.strerror


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lstmkit")
def cli() -> None:
    """lstmkit: LSTM networks, correct and fast, with honest forecasting and classification kits."""


def main() -> None:
    """Console-script entry point."""
    cli()
