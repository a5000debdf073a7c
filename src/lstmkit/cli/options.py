"""Option types shared by the subcommands."""

from __future__ import annotations

from typing import Any

import click


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
