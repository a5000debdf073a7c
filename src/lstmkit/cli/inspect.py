"""``lstmkit gates MODEL DATA``: record a saved model's LSTM gates on data and draw them."""

from __future__ import annotations

import importlib
import io
import re
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np
from numpy.lib.npyio import NpzFile

from lstmkit.cli.predict import load_model_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# config "kind" -> "module:function(path) -> nn.Module or lstmkit Model"
LOADERS: dict[str, str] = {
    "keras_model": "lstmkit.models:load_model",
    "memory_task_net": "lstmkit.tasks.models:load_memory_net",
}


def load_model_any(path: Path) -> Any:
    """Load a saved lstmkit model whose kind :data:`LOADERS` knows."""
    from lstmkit.utils.serialization import load_bundle

    _, config = load_bundle(path)
    kind = config.get("kind")
    target = LOADERS.get(str(kind))
    if target is None:
        raise ValueError(
            f"'{path}' holds a model of kind {kind!r}; lstmkit gates reads {', '.join(sorted(LOADERS))}"
        )
    module_name, function = target.split(":")
    return load_model_file(getattr(importlib.import_module(module_name), function), path)


def _load_numpy(path: Path, name: str) -> np.ndarray:
    """The array of a ``.npy`` file, or the ``x`` (or only) array of a ``.npz`` archive.

    Raises:
        ValueError: the file is truncated, not a NumPy file, or holds Python objects (the message names the
            file and never suggests unpickling it), or a ``.npz`` holds several arrays, none named ``x``.
    """
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, NpzFile):
            return np.asarray(loaded)
        with loaded:
            keys = list(loaded.keys())
            if "x" in keys or len(keys) == 1:
                return np.asarray(loaded["x" if "x" in keys else keys[0]])
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as err:
        raise ValueError(
            f"{name} '{path}' could not be read: {_reason(err)}; expected a .npy/.npz array of numbers "
            f"(written by numpy.save or numpy.savez)"
        ) from err
    raise ValueError(f"{name} '{path}' must hold an array named 'x' or a single array, got {keys}")


def _reason(err: Exception) -> str:
    """Why NumPy could not load a file, without its advice to unpickle untrusted data."""
    text = str(err)
    if "pickle" in text.lower():
        return "it is damaged, not a NumPy file, or holds Python objects rather than numbers"
    return text or type(err).__name__


def read_array(path: Path, *, name: str) -> np.ndarray:
    """Read ``.npy`` (the array), ``.npz`` (its ``x`` or only array) or ``.csv`` (numeric columns).

    Raises:
        TypeError: the array holds no real numbers (booleans, complex numbers, text).
        ValueError: the file cannot be read, or holds NaN or infinite values.
    """
    from lstmkit.utils.tables import read_table
    from lstmkit.utils.validation import check_finite

    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        array = _load_numpy(path, name)
    elif suffix == ".csv":
        try:
            frame = read_table(path, "a header row and numeric columns")
        except ValueError as err:
            raise ValueError(f"{name} {err}") from err
        numeric = frame.select_dtypes("number")
        if numeric.empty:
            raise ValueError(f"{name} '{path}' has no numeric columns")
        array = numeric.to_numpy()
    else:
        raise ValueError(f"{name} must be a .npy, .npz or .csv file, got '{path.name}'")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(
            f"{name} '{path}' must hold real numbers (integers or floats), got dtype {array.dtype}"
        )
    check_finite(f"{name} '{path}'", array)
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
    magnitude, limit = np.abs(array), float(np.finfo(np.float32).max)
    if magnitude.max() > limit:  # checked before the cast, which would warn and make it inf
        index = tuple(int(i) for i in np.unravel_index(magnitude.argmax(), array.shape))
        raise ValueError(
            f"{name} '{path}' holds {array[index]:.3g} at index {index}, beyond float32's largest magnitude "
            f"{limit:.3g} (the model runs in float32); rescale the data"
        )
    return array.astype(np.float32)


def load_signal(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """Read --signal as ``(B, T)`` from ``(B, T)`` or ``(T,)`` (a CSV's first numeric column).

    Raises:
        ValueError: the signal does not match ``shape``, the ``(B, T)`` of DATA.
    """
    array = read_array(path, name="--signal")
    if path.suffix.lower() == ".csv":
        array = array[:, 0]
    signal = array[None] if array.ndim == 1 else array
    if signal.shape != shape:
        one = f" or ({shape[1]},)" if shape[0] == 1 else ""
        raise ValueError(
            f"--signal '{path}' must hold one value per step of DATA, shape (B, T) = {shape}{one}, "
            f"got shape {array.shape}"
        )
    return signal.astype(np.float64)


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
@click.option(
    "--max-units", type=click.IntRange(min=1), default=64, show_default=True, help="Units drawn per heat map."
)
def gates(model: Path, data: Path, sample: int, out: Path, signal: Path | None, max_units: int) -> None:
    """Record the LSTM gates of the saved MODEL on DATA and draw heat maps, forget-gate histograms.

    Every input is read and checked and every figure drawn before anything is written to --out; each
    file is then written atomically.
    """
    from lstmkit.inspect.plots import (
        forget_time_constants,
        plot_correlated_units,
        plot_forget_distribution,
        plot_gates,
    )
    from lstmkit.inspect.record import record
    from lstmkit.utils.figures import save_figure
    from lstmkit.utils.serialization import atomic_write_bytes

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
    target = None if signal is None else load_signal(signal, (x.shape[0], x.shape[1]))  # (B, T)
    records = record(net, x)
    figures: dict[str, Figure] = {}
    arrays: dict[str, np.ndarray] = {}
    taus = forget_time_constants(records)
    lines = [f"{'layer':<24} {'mean i':>7} {'mean f':>7} {'mean o':>7} {'median tau':>11}"]
    for rec in records:
        slug = re.sub(r"[^A-Za-z0-9_]+", "_", rec.key).strip("_")
        figures[f"gates_{slug}.png"] = plot_gates(rec, sample=sample, max_units=max_units)
        if target is not None:
            figures[f"units_{slug}.png"] = plot_correlated_units(rec, target, sample=sample)
        for field in ("x", "i", "f", "g", "o", "c", "h"):
            arrays[f"{slug}/{field}"] = getattr(rec, field)
        lines.append(
            f"{rec.key:<24} {rec.i.mean():>7.3f} {rec.f.mean():>7.3f} {rec.o.mean():>7.3f} "
            f"{np.median(taus[rec.key]):>11.1f}"
        )
    figures["forget_distribution.png"] = plot_forget_distribution(records)
    buffer = io.BytesIO()
    savez: Any = np.savez_compressed  # numpy's stub types **kwds as its bool options
    savez(buffer, **arrays)
    click.echo("\n".join(lines))
    for name, figure in figures.items():
        save_figure(figure, out / name)
    atomic_write_bytes(out / "gates.npz", buffer.getvalue())
    click.echo(f"wrote {len(records)} gate heat map(s), forget_distribution.png and gates.npz to {out}")
