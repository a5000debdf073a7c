"""Option types shared by the subcommands."""

from __future__ import annotations

from typing import Any

import click


def available_devices() -> list[str]:
    """The devices this machine can train on: ``cpu``, then ``cuda`` and ``cuda:N``, ``mps`` where present."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    cuda = ["cuda", *(f"cuda:{index}" for index in range(count))] if count else []
    return ["cpu", *cuda, *(["mps"] if torch.backends.mps.is_available() else [])]


class DeviceType(click.ParamType):
    """A device this machine can train on, checked when the option is parsed (before any work starts)."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        accepted = available_devices()
        if text not in accepted:
            self.fail(
                f"{text!r} is not a device this machine can train on; expected one of {', '.join(accepted)}",
                param,
                ctx,
            )
        return text


DEVICE = DeviceType()
