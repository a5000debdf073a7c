"""Loss curves of the memory benchmark (matplotlib, Agg; figures are built without pyplot)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure

from lstmkit.tasks.memory import RunResult
from lstmkit.utils.figures import save_figure


def plot_loss_curves(results: Sequence[RunResult], path: str | os.PathLike[str] | None = None) -> Figure:
    """Validation loss against training step, one panel per length, one line per model.

    The trivial baseline of each length is drawn as a dashed line.

    Args:
        results: benchmark results (with their curves).
        path: if given, save the figure there (PNG, 110 dpi).

    Returns:
        The figure.

    Raises:
        ValueError: ``results`` is empty.
    """
    if not results:
        raise ValueError("plot_loss_curves needs at least one result, got none")
    lengths = sorted({r.length for r in results})
    fig = Figure(figsize=(4.0 * len(lengths), 3.2), layout="constrained")
    axes = fig.subplots(1, len(lengths), squeeze=False)[0]
    for ax, length in zip(axes, lengths, strict=True):
        for r in (r for r in results if r.length == length):
            steps = [p.step for p in r.curve]
            ax.plot(steps, [p.val_loss for p in r.curve], label=r.model)
        baseline = next(r.baseline_loss for r in results if r.length == length)
        ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="baseline")
        ax.set_yscale("log")
        ax.set_title(f"{results[0].task}, T = {length}")
        ax.set_xlabel("training step")
        ax.set_ylabel("validation loss")
        ax.legend(fontsize="small")
    if path is not None:
        save_figure(fig, path)
    return fig
