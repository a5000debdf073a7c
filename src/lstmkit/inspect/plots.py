"""Plots of recorded gates and gradient flow (matplotlib; figures are built without pyplot, Agg-safe)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from lstmkit.inspect.gradient_flow import GradientFlow
from lstmkit.inspect.record import GateRecord
from lstmkit.utils.figures import save_figure
from lstmkit.utils.validation import check_finite, check_positive_int

PathLike = str | os.PathLike[str]
GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "h": "hidden state h",
}


def _save(fig: Figure, path: PathLike | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


def _check_sample(sample: object, batch: int) -> int:
    """``sample`` as an int if it indexes a batch of ``batch`` sequences, else raise."""
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer):
        raise TypeError(f"sample must be an integer, got {type(sample).__name__} {sample!r}")
    if not 0 <= sample < batch:
        raise ValueError(f"sample must be in [0, {batch}) for a batch of {batch}, got {sample}")
    return int(sample)


def _numbers(name: str, values: object, expected: str) -> np.ndarray:
    """``values`` as a finite float64 array, else raise naming ``name`` and the ``expected`` shape."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be an array of numbers {expected}, got {type(values).__name__}"
        ) from err
    check_finite(name, array)
    return array


def _check_flows(flows: object, where: str) -> Mapping[str, GradientFlow]:
    """``flows`` if it maps model names to :class:`GradientFlow`, else raise."""
    if not isinstance(flows, Mapping):
        raise TypeError(
            f"{where} must map each model's name to its GradientFlow, e.g. {{'lstm': flow}}, got "
            f"{type(flows).__name__}"
        )
    for model, flow in flows.items():
        if not isinstance(flow, GradientFlow):
            raise TypeError(
                f"{where}[{model!r}] must be a GradientFlow (from gradient_flow), got {type(flow).__name__}"
            )
    return flows


def plot_gradient_flow(
    flows: Mapping[str, GradientFlow], path: PathLike | None = None, *, title: str | None = None
) -> Figure:
    """``‖∂L/∂x_t‖`` against the lag ``T - 1 - t``, one line per model, log scale.

    An exponential decay (a straight falling line) is the vanishing gradient; a flat line means the
    loss still reaches the distant inputs.

    Args:
        flows: model name to its :class:`GradientFlow` (on the same data).
        path: if given, save the figure there (PNG).
        title: figure title.

    Returns:
        The figure.

    Raises:
        TypeError: ``flows`` is not a mapping of names to :class:`GradientFlow`.
        ValueError: ``flows`` is empty.
    """
    _check_flows(flows, "flows")
    return plot_gradient_flow_panels({title or "gradient flow over time": flows}, path)


def plot_gradient_flow_panels(
    panels: Mapping[str, Mapping[str, GradientFlow]],
    path: PathLike | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Several :func:`plot_gradient_flow` panels side by side (e.g. before and after training).

    Norms that are exactly 0 (underflow past the dtype's smallest number) are left out of the line, so a
    line that stops early means the gradient no longer reaches further back at all.

    Args:
        panels: panel title to (model name to :class:`GradientFlow`).
        path: if given, save the figure there (PNG).
        title: overall title.

    Raises:
        TypeError: ``panels`` is not a mapping of titles to mappings of names to :class:`GradientFlow`.
        ValueError: no panel, or a panel without a model.
    """
    if not isinstance(panels, Mapping):
        raise TypeError(f"panels must map each panel's title to its flows, got {type(panels).__name__}")
    for name, flows in panels.items():
        _check_flows(flows, f"panels[{name!r}]")
    if not panels or any(not flows for flows in panels.values()):
        raise ValueError(
            "plot_gradient_flow needs at least one model's GradientFlow in every panel, got none"
        )
    fig = Figure(figsize=(4.6 * len(panels), 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for ax, (name, flows) in zip(axes, panels.items(), strict=True):
        for model, flow in flows.items():
            norm = np.where(flow.input_norm > 0, flow.input_norm, np.nan)  # 0: underflow, not drawn
            ax.plot(flow.lag, norm, label=model)
        ax.set_yscale("log")
        ax.set_xlabel("lag T - 1 - t (steps before the loss)")
        ax.set_title(name, fontsize="medium")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("mean ‖∂L/∂x_t‖")
    if title is not None:
        fig.suptitle(title, fontsize="medium")
    return _save(fig, path)


def plot_gates(
    rec: GateRecord,
    *,
    sample: int = 0,
    series: np.ndarray | None = None,
    gates: Sequence[str] = ("i", "f", "g", "o", "c", "h"),
    max_units: int = 64,
    path: PathLike | None = None,
) -> Figure:
    """Heat maps (units × time) of each gate of one sequence, with the input series drawn above.

    Args:
        rec: one layer and direction from :func:`lstmkit.inspect.record`.
        sample: which sequence of the batch.
        series: the series to draw above ``(T,)`` or ``(T, I)``; defaults to the layer's input ``rec.x``.
        gates: which of ``i, f, g, o, c, h`` to draw, top to bottom.
        max_units: draw at most this many units (the first ones).
        path: if given, save the figure there (PNG).

    Returns:
        The figure.

    Raises:
        TypeError: ``sample`` or ``max_units`` is not an integer, or ``series`` does not hold numbers.
        ValueError: ``sample`` out of range, an unknown gate name, ``series`` not ``(T,)`` or ``(T, I)``
            with the record's ``T`` or holding NaN/inf, or ``max_units`` below 1.
    """
    check_positive_int("max_units", max_units)
    batch, steps = rec.h.shape[:2]
    sample = _check_sample(sample, batch)
    unknown = [g for g in gates if g not in GATE_TITLES]
    if unknown or not gates:
        raise ValueError(f"gates must be a non-empty list of {', '.join(GATE_TITLES)}, got {list(gates)}")
    top = rec.x[sample] if series is None else _numbers("series", series, "(T,) or (T, I)")
    if top.ndim not in (1, 2) or top.shape[0] != steps:
        raise ValueError(
            f"series must be (T,) or (T, I) with T = {steps} steps like the record, got shape {top.shape}"
        )
    top = top.reshape(steps, -1)
    fig = Figure(figsize=(7.0, 1.2 + 1.1 * len(gates)), layout="constrained")
    axes = fig.subplots(len(gates) + 1, 1, sharex=True, height_ratios=[1.2] + [1.0] * len(gates))
    for k in range(min(top.shape[1], 8)):
        axes[0].plot(np.arange(steps), top[:, k], linewidth=1, label=f"x[{k}]")
    axes[0].set_xlim(-0.5, steps - 0.5)
    axes[0].set_title(f"LSTM {rec.key}, sequence {sample}: input and gates", fontsize="medium")
    if top.shape[1] > 1:
        axes[0].legend(fontsize="x-small", loc="upper right", ncol=min(top.shape[1], 4))
    for ax, name in zip(axes[1:], gates, strict=True):
        values = getattr(rec, name)[sample, :, :max_units].T  # (H, T)
        signed = name in ("g", "c", "h")
        limit = float(np.abs(values).max()) if signed else 1.0
        image = ax.imshow(
            values,
            aspect="auto",
            interpolation="nearest",
            cmap="RdBu_r" if signed else "viridis",
            vmin=-limit if signed else 0.0,
            vmax=limit,
        )
        ax.set_ylabel("unit", fontsize="small")
        ax.set_title(GATE_TITLES[name], fontsize="small", loc="left")
        fig.colorbar(image, ax=ax, pad=0.01, aspect=8)
    axes[-1].set_xlabel("time step t")
    return _save(fig, path)


def forget_time_constants(records: Sequence[GateRecord]) -> dict[str, np.ndarray]:
    """Per layer, each unit's memory time constant ``τ = -1 / log(mean_t f_t)`` in steps.

    A unit whose forget gate stays at ``f`` keeps a fraction ``f^k`` of its cell after ``k`` steps, so
    ``τ`` is the lag at which ``1/e`` remains.

    Returns:
        Record key to ``(H,)`` time constants: ``+inf`` where ``f`` averages to 1 (a saturated gate keeps
        its cell for ever), ``0`` where it averages to 0.

    Example:
        >>> f = np.array([[[0.0, 0.5, 1.0]]])  # (B, T, H) = (1, 1, 3)
        >>> rec = GateRecord("lstm", 0, 0, "forward", *[f] * 7)
        >>> forget_time_constants([rec])["lstm/l0/forward"].round(3).tolist()
        [0.0, 1.443, inf]
    """
    out = {}
    for rec in records:
        mean_f = rec.f.reshape(-1, rec.f.shape[-1]).astype(np.float64).mean(axis=0)  # (H,)
        with np.errstate(divide="ignore"):  # log 0 = -inf gives tau = 0 where the gate is shut
            tau = -1.0 / np.log(mean_f)
        tau[mean_f >= 1.0] = np.inf  # log 1 = 0: a saturated gate keeps its cell for ever (not -inf)
        out[rec.key] = tau
    return out


def plot_forget_distribution(records: Sequence[GateRecord], path: PathLike | None = None) -> Figure:
    """Histogram of forget-gate values over all steps, sequences and units, one panel per layer.

    Values near 1 keep the cell (long memory), values near 0 reset it. The title of each panel gives
    the median time constant ``τ = -1 / log f`` of its units.

    Raises:
        ValueError: ``records`` is empty.
    """
    if not records:
        raise ValueError("plot_forget_distribution needs at least one GateRecord, got none")
    taus = forget_time_constants(records)
    fig = Figure(figsize=(3.2 * len(records), 2.8), layout="constrained")
    axes = fig.subplots(1, len(records), squeeze=False)[0]
    for ax, rec in zip(axes, records, strict=True):
        ax.hist(rec.f.ravel(), bins=50, range=(0.0, 1.0), color="tab:green")
        ax.set_xlabel("forget gate f")
        ax.set_ylabel("count")
        ax.set_title(f"{rec.key}: median τ {np.median(taus[rec.key]):.1f} steps", fontsize="small")
    return _save(fig, path)


def correlated_units(
    rec: GateRecord, signal: np.ndarray, *, state: str = "c", top: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Units whose ``state`` (``"c"`` or ``"h"``) correlates most (in absolute Pearson r) with ``signal``.

    Args:
        rec: one layer and direction.
        signal: ``(B, T)`` (or ``(T,)`` for a batch of one) values to correlate with, step by step.
        state: ``"c"``, ``"h"`` or a gate name.
        top: how many units to return.

    Returns:
        ``(units, r)``: indices ``(top,)`` sorted by ``|r|`` descending, and their correlations.

    Raises:
        TypeError: ``top`` is not an integer, or ``signal`` does not hold numbers.
        ValueError: ``signal`` does not match the record's ``(B, T)`` or holds NaN/inf, ``state`` is
            unknown, or ``top`` is below 1.
    """
    if state not in GATE_TITLES:
        raise ValueError(f"state must be one of {', '.join(GATE_TITLES)}, got {state!r}")
    top = check_positive_int("top", top)
    values = getattr(rec, state)  # (B, T, H)
    target = _numbers("signal", signal, "(B, T) or (T,)")
    if target.ndim == 1:
        target = target[None]
    if target.shape != values.shape[:2]:
        raise ValueError(f"signal must have shape (B, T) = {values.shape[:2]}, got {np.shape(signal)}")
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)  # (B*T, H)
    s = target.ravel() - target.mean()
    centred = flat - flat.mean(axis=0)
    denom = np.sqrt((centred**2).sum(axis=0) * (s**2).sum())
    r = np.divide(centred.T @ s, denom, out=np.zeros(flat.shape[1]), where=denom > 0)
    order = np.argsort(-np.abs(r))[: min(top, len(r))]
    return order, r[order]


def plot_correlated_units(
    rec: GateRecord,
    signal: np.ndarray,
    *,
    state: str = "c",
    top: int = 4,
    sample: int = 0,
    path: PathLike | None = None,
) -> Figure:
    """The ``top`` units most correlated with ``signal``, drawn against it for one sequence.

    Args:
        rec: one layer and direction.
        signal: ``(B, T)`` or ``(T,)``.
        state: ``"c"``, ``"h"`` or a gate name.
        top: number of units.
        sample: which sequence to draw.
        path: if given, save the figure there (PNG).
    """
    units, r = correlated_units(rec, signal, state=state, top=top)
    target = np.asarray(signal, dtype=np.float64).reshape(-1, rec.h.shape[1])
    sample = _check_sample(sample, target.shape[0])
    fig = Figure(figsize=(7.0, 1.0 + 1.2 * len(units)), layout="constrained")
    axes = fig.subplots(len(units), 1, sharex=True, squeeze=False)[:, 0]
    for ax, unit, corr in zip(axes, units, r, strict=True):
        ax.plot(getattr(rec, state)[sample, :, unit], label=f"{state}[{unit}]", color="tab:blue")
        twin = ax.twinx()
        twin.plot(target[sample], color="tab:orange", linewidth=1, label="signal")
        ax.set_title(f"unit {unit}: r = {corr:+.2f}", fontsize="small", loc="left")
    axes[-1].set_xlabel("time step t")
    return _save(fig, path)
