"""``lstmkit predict MODEL DATA``: apply any saved lstmkit model to new data.

The model file's config names its ``kind``; each kit registers the function that applies its kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

# config "kind" -> "module:function(model_path, data_path, out_path) -> None" (the text classifier's also
# takes text_column, from --text-column)
PREDICTORS: dict[str, str] = {
    "forecaster": "lstmkit.cli.forecast:predict_forecaster",
    "tsc_classifier": "lstmkit.cli.classify:predict_classifier",
    "text_classifier": "lstmkit.cli.text:predict_text_classifier",
}

Loaded = TypeVar("Loaded")


def load_model_file(load: Callable[[Path], Loaded], path: Path) -> Loaded:
    """``load(path)``, with a ``KeyError`` from a config that lacks a key made a ``ValueError`` naming both.

    Raises:
        ValueError: the file's config lacks a key the loader needs (or any ``ValueError`` of ``load``).
    """
    try:
        return load(path)
    except KeyError as err:
        key = err.args[0] if err.args else "?"
        raise ValueError(
            f"'{path}' is a damaged lstmkit model file: its config lacks the key {key!r}"
        ) from err


@click.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write predictions to this CSV.")
@click.option(
    "--text-column",
    default=None,
    help="Text models: the column of texts. [default: the model's training column, else text]",
)
def predict(model: Path, data: Path, out: Path | None, text_column: str | None) -> None:
    """Apply the saved model MODEL to DATA and print (or write) its predictions."""
    from lstmkit.utils.serialization import load_bundle

    _, config = load_bundle(model)
    kind = config.get("kind")
    target = PREDICTORS.get(str(kind))
    if target is None:
        valid = ", ".join(sorted(PREDICTORS))
        raise ValueError(f"'{model}' holds a model of kind {kind!r}; lstmkit predict applies {valid}")
    if text_column is not None and kind != "text_classifier":
        raise ValueError(
            f"--text-column is for text models, and '{model}' holds a model of kind {kind!r}; leave it out"
        )
    options = {} if text_column is None else {"text_column": text_column}
    module_name, function = target.split(":")
    getattr(importlib.import_module(module_name), function)(model, data, out, **options)
