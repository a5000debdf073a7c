"""``lstmkit <command> --help`` imports no heavy library, and the choices copied for it stay right."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import click
import pytest

from lstmkit.classify import classifier
from lstmkit.cli import SUBCOMMANDS, cli
from lstmkit.cli import bench as bench_cli
from lstmkit.cli import classify as classify_cli
from lstmkit.cli import forecast as forecast_cli
from lstmkit.cli import text as text_cli
from lstmkit.forecast import data, scalers, transforms
from lstmkit.tasks import memory
from lstmkit.tasks import models as task_models
from lstmkit.text import models as text_models
from lstmkit.text import tokenizer

HEAVY = ("torch", "pandas", "matplotlib", "onnx", "onnxruntime")


def _command_paths() -> list[tuple[str, ...]]:
    """``lstmkit`` itself, every subcommand, and every command of a subcommand that is a group (``text
    train``)."""
    ctx = click.Context(cli)
    paths: list[tuple[str, ...]] = [()]
    for name in sorted(SUBCOMMANDS):
        paths.append((name,))
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in command.list_commands(ctx)]
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(("lstmkit", *path)))
def test_help_imports_no_heavy_library(path: tuple[str, ...]) -> None:
    # torch, pandas, matplotlib and the ONNX exporter took 4-6 s to import for a screen of text
    code = (
        "import sys\n"
        "from lstmkit.cli import cli\n"
        "try:\n"
        f"    cli([*{list(path)!r}, '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: " in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("copied", "original"),
    [
        pytest.param(forecast_cli.FILL_POLICIES, data.FILL_POLICIES, id="forecast-FILL_POLICIES"),
        pytest.param(forecast_cli.TRANSFORMS, transforms.TRANSFORMS, id="forecast-TRANSFORMS"),
        pytest.param(forecast_cli.SCALERS, scalers.SCALERS, id="forecast-SCALERS"),
        pytest.param(classify_cli.MODELS, classifier.MODELS, id="classify-MODELS"),
        pytest.param(classify_cli.NORMALIZATIONS, classifier.NORMALIZATIONS, id="classify-NORMALIZATIONS"),
        pytest.param(text_cli.POOLINGS, text_models.POOLINGS, id="text-POOLINGS"),
        pytest.param(text_cli.PUNCTUATION, tokenizer.PUNCTUATION, id="text-PUNCTUATION"),
        pytest.param(bench_cli.TASKS, memory.TASKS, id="bench-TASKS"),
        pytest.param(bench_cli.CELL_KINDS, task_models.CELL_KINDS, id="bench-CELL_KINDS"),
    ],
)
def test_copied_choices_equal_the_librarys(copied: Sequence[str], original: Sequence[str]) -> None:
    assert tuple(copied) == tuple(original)
