"""``lstmkit gates MODEL DATA``: record a saved model's LSTM gates on data and draw them."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from lstmkit.inspect.plots import (
    forget_time_constants,
    plot_correlated_units,
    plot_forget_distribution,
    plot_gates,
)
from lstmkit.inspect.record import record
from lstmkit.utils.serialization import load_bundle

# config "kind" -> "module:function(path) -> nn.Module or lstmkit Model"
LOADERS: dict[str, str] = {
    "keras_model": "lstmkit.models:load_model",
    "memory_task_net": "lstmkit.tasks.models:load_memory_net",
}


def load_model_any(path: Path) -> Any:
    """Load a saved lstmkit model whose kind :data:`LOADERS` knows."""
    _, config = load_bundle(path)
    kind = config.get("kind")
    target = LOADERS.get(str(kind))
    if target is None:
        raise ValueError(
            f"'{path}' holds a model of kind {kind!r}; lstmkit gates reads {', '.join(sorted(LOADERS))}"
        )
    module_name, function = target.split(":")
    return getattr(importlib.import_module(module_name), function)(path)


def read_array(path: Path, *, name: str) -> np.ndarray:
    """Read ``.npy`` (the array), ``.npz`` (its ``x`` or only array) or ``.csv`` (numeric columns)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "x" not in keys and len(keys) != 1:
                raise ValueError(
                    f"{name} '{path}' must hold an array named 'x' or a single array, got {keys}"
                )
            array = archive["x" if "x" in keys else keys[0]]
    elif suffix == ".csv":
        frame = pd.read_csv(path).select_dtypes("number")
        if frame.empty:
            raise ValueError(f"{name} '{path}' has no numeric columns")
        array = frame.to_numpy()
    else:
        raise ValueError(f"{name} must be a .npy, .npz or .csv file, got '{path.name}'")
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} '{path}' must hold numbers, got dtype {array.dtype}")
    return array


def load_sequences(path: Path) -> np.ndarray:
    """Read DATA as float32 ``(B, T, I)`` from ``(B, T, I)``, ``(T, I)`` or ``(T,)``; a CSV is one series."""
    name = "DATA"
    array = read_array(path, name=name)
    if array.ndim == 1:
        array = array[None, :, None]
    elif array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(
            f"{name} '{path}' must hold (B, T, I), (T, I) or (T,) values, got shape {array.shape}"
        )
    return array.astype(np.float32)


def load_signal(path: Path) -> np.ndarray:
    """Read --signal as ``(B, T)`` from ``(B, T)`` or ``(T,)`` (a CSV's first numeric column)."""
    array = read_array(path, name="--signal")
    if path.suffix.lower() == ".csv":
        array = array[:, 0]
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise ValueError(f"--signal '{path}' must hold (B, T) or (T,) values, got shape {array.shape}")
    return array.astype(np.float64)


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sample", type=int, default=0, show_default=True, help="Which sequence of DATA to draw.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gates"),
    show_default=True,
    help="Folder for the figures and gates.npz.",
)
@click.option(
    "--signal",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A .npy/.npz/.csv signal (B, T) or (T,): also plot the units most correlated with it.",
)
@click.option("--max-units", type=int, default=64, show_default=True, help="Units drawn per heat map.")
def gates(model: Path, data: Path, sample: int, out: Path, signal: Path | None, max_units: int) -> None:
    """Record the LSTM gates of the saved MODEL on DATA and draw heat maps, forget-gate histograms."""
    net = load_model_any(model)
    x = load_sequences(data)
    if not 0 <= sample < x.shape[0]:
        raise ValueError(
            f"--sample must be in [0, {x.shape[0]}) for DATA with {x.shape[0]} sequence(s), got {sample}"
        )
    expected = getattr(net, "input_size", None)
    if isinstance(expected, int) and x.shape[-1] != expected:
        raise ValueError(
            f"the model takes {expected} feature(s) per step; DATA has shape {x.shape} (B, T, I)"
        )
    records = record(net, x)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    taus = forget_time_constants(records)
    click.echo(f"{'layer':<24} {'mean i':>7} {'mean f':>7} {'mean o':>7} {'median tau':>11}")
    for rec in records:
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", rec.key).strip("_")
        plot_gates(rec, sample=sample, max_units=max_units, path=out / f"gates_{slug}.png")
        for field in ("x", "i", "f", "g", "o", "c", "h"):
            arrays[f"{slug}/{field}"] = getattr(rec, field)
        click.echo(
            f"{rec.key:<24} {rec.i.mean():>7.3f} {rec.f.mean():>7.3f} {rec.o.mean():>7.3f} "
            f"{np.median(taus[rec.key]):>11.1f}"
        )
        if signal is not None:
            target = load_signal(signal)  # (B, T)
            plot_correlated_units(rec, target, sample=sample, path=out / f"units_{slug}.png")
    plot_forget_distribution(records, out / "forget_distribution.png")
    savez: Any = np.savez_compressed  # numpy's stub types **kwds as its bool options
    savez(out / "gates.npz", **arrays)
    click.echo(f"wrote {len(records)} gate heat map(s), forget_distribution.png and gates.npz to {out}")
