"""Option types shared by the subcommands."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

MAX_SEED = 2**63 - 1  # lstmkit.utils.validation.MAX_SEED, copied so that --help imports no
# torch (a test keeps them equal)
SEED = click.IntRange(0, MAX_SEED)
"""``--seed``: an integer in ``[0, 2**63 - 1]``, refused as a usage error before any work starts."""


class DeviceType(click.ParamType):
    """A device this machine can train on, checked when the option is parsed (before any work starts).

    The check is the library's (:func:`lstmkit.forecast.regressor.device_problem`), imported when an option
    is parsed so that ``--help`` does not import torch.
    """

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from lstmkit.forecast.regressor import device_problem

        text = str(value)
        problem = device_problem(text)
        if problem is not None:
            self.fail(f"{text!r} {problem}", param, ctx)
        return text


DEVICE = DeviceType()


class OutFolder(click.Path):
    """``--out DIR`` of a command that trains first and writes last, checked writable when parsed.

    A folder that cannot be made or written in is a usage error before any work starts, not an error
    after the training. The check makes (and removes) a temporary folder in the nearest existing folder
    on the way to the one the command first writes in: ``DIR`` itself, or with ``beside=True`` its parent
    (where ``lstmkit forecast`` stages its results before renaming them into place). ``os.access`` would
    not do: it lets root through on ``/sys``, where no one may make a folder.

    Args:
        beside: the command writes beside ``DIR`` (in its parent) first.
    """

    def __init__(self, *, beside: bool = False) -> None:
        super().__init__(file_okay=False, path_type=Path)
        self.beside = beside

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(os.fsdecode(super().convert(value, param, ctx)))
        first = path.parent if self.beside else path
        existing = next((p for p in (first, *first.parents) if p.exists()), None)
        if existing is None:
            self.fail(f"cannot write '{path}': none of the folders on its way exists", param, ctx)
        if not existing.is_dir():
            self.fail(f"cannot write '{path}': '{existing}' is a file, not a folder", param, ctx)
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".lstmkit-probe-", dir=existing))
        except OSError as err:
            reason = err.strerror or str(err)
            self.fail(f"cannot write '{path}': making a folder in '{existing}' failed: {reason}", param, ctx)
        return path
