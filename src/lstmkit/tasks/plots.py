"""Loss curves of the memory benchmark (matplotlib, Agg; figures are built without pyplot)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure

from lstmkit.tasks.memory import RunResult
from lstmkit.utils.figures import save_figure


def plot_loss_curves(results: Sequence[RunResult], path: str | os.PathLike[str] | None = None) -> Figure:
    """Validation loss against training step, one panel per task and length, one line per model.

    The trivial baseline of each task and length is drawn as a dashed line.

    Args:
        results: benchmark results (with their curves), of one task or several.
        path: if given, save the figure there (PNG, 110 dpi).

    Returns:
        The figure.

    Raises:
        TypeError: an item of ``results`` is not a :class:`RunResult`.
        ValueError: ``results`` is empty.
    """
    if not results:
        raise ValueError("plot_loss_curves needs at least one result, got none")
    for r in results:
        if not isinstance(r, RunResult):
            raise TypeError(f"plot_loss_curves takes RunResult items, got {type(r).__name__}")
    panels = sorted({(r.task, r.length) for r in results})
    fig = Figure(figsize=(4.0 * len(panels), 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (task, length) in zip(axes, panels, strict=True):
        runs = [r for r in results if (r.task, r.length) == (task, length)]
        for r in runs:
            steps = [p.step for p in r.curve]
            ax.plot(steps, [p.val_loss for p in r.curve], label=r.model)
        ax.axhline(runs[0].baseline_loss, color="grey", linestyle="--", linewidth=1, label="baseline")
        ax.set_yscale("log")
        ax.set_title(f"{task}, T = {length}")
        ax.set_xlabel("training step")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize="small")
    if path is not None:
        save_figure(fig, path)
    return fig
