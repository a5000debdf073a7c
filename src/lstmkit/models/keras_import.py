"""Read a Keras 3 ``.keras`` file of a ``Sequential`` model into an lstmkit ``Sequential``.

A ``.keras`` file is a zip of ``config.json`` (the architecture and compile settings), ``metadata.json``
and ``model.weights.h5``. Only the JSON and the HDF5 arrays are read: nothing named in the file is
imported, nothing is unpickled. Layer configs are translated in :mod:`lstmkit.models.keras_layers`.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from lstmkit.layers import Layer
from lstmkit.layers.base import snake_case
from lstmkit.models import losses, metrics, optimizers
from lstmkit.models.file_errors import ModelFileError
from lstmkit.models.keras_layers import (
    check_builtin,
    ignored_penalties,
    layer_name,
    to_layer,
    weight_paths,
)
from lstmkit.models.optimizers import OptimizerSpec
from lstmkit.models.sequential import Sequential

MEMBERS = ("config.json", "metadata.json", "model.weights.h5")

# Keras class name (lower case) -> lstmkit's spec with Keras's argument names
_OPTIMIZERS = {"adam": optimizers.Adam, "adamw": optimizers.AdamW, "sgd": optimizers.SGD}
_OPTIMIZERS |= {"rmsprop": optimizers.RMSprop, "adagrad": optimizers.Adagrad}
# Keras optimizer arguments with the value at which they change nothing in lstmkit's training
_OPTIMIZER_INERT = {
    "name": None,
    "use_ema": False,
    "ema_momentum": None,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
}
_LOSSES = {cls.__name__: cls for cls in losses.KERAS_CLASSES}


def load_keras(path: str | os.PathLike[str], *, compile: bool = True) -> Sequential:
    """Load a Keras 3 ``.keras`` file of a ``Sequential`` model as an lstmkit ``Sequential``.

    The layers, their arguments and their weights are Keras's, so ``predict`` gives Keras's outputs. With
    ``compile`` (the default) the model is compiled with the file's optimizer, loss and metrics where
    lstmkit knows them all; otherwise it loads uncompiled and a warning says why. The optimizer's state
    is not loaded (training starts it afresh). Regularizers and constraints do not change ``predict``:
    they load ignored, and one warning names them.

    Args:
        path: the ``.keras`` file.
        compile: compile with the file's ``compile_config``; ``False`` loads the weights only.

    Returns:
        The built model, in eval mode.

    Raises:
        FileNotFoundError: no such file.
        ImportError: h5py is missing (``pip install lstmkit[keras]``).
        ValueError: not a ``.keras`` file, a missing member, a model that is not a ``Sequential``, a
            ``Lambda`` layer, a custom object, a layer or argument value lstmkit does not support (the
            message names the layer, the argument and the value), or weights that do not fit. The
            message names the file.

    Example:
        >>> from lstmkit.models import load_keras
        >>> model = load_keras("model.keras")  # doctest: +SKIP
    """
    try:
        import h5py
    except ImportError as err:
        raise ImportError("load_keras reads HDF5 weights with h5py: pip install lstmkit[keras]") from err
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"no such file: '{source}'")
    config, weights_bytes = _read_zip(source)
    try:
        entries = _layer_entries(config)
        model = Sequential([to_layer(entry) for entry in entries[1:]], name=config["config"].get("name"))
        shape = _input_shape(config, entries)
        model.build((None, *shape))
    except (ValueError, TypeError, KeyError) as err:
        raise ModelFileError(f"'{source}' holds a Keras model lstmkit cannot load: {err}") from err
    try:
        with h5py.File(io.BytesIO(weights_bytes), "r") as weights:
            _load_weights(model, entries[1:], weights)
    except OSError as err:
        raise ModelFileError(f"'{source}': model.weights.h5 is not a readable HDF5 file ({err})") from err
    except (ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"'{source}' holds weights that do not fit its model: {err}") from err
    model.module.eval()
    penalties = [found for entry in entries[1:] for found in ignored_penalties(entry)]
    if penalties:
        warnings.warn(
            f"'{source}': lstmkit does not apply Keras regularizers/constraints: predict matches, training "
            f"will not add them; ignored: {'; '.join(penalties)}",
            stacklevel=2,
        )
    compile_config = config.get("compile_config")
    if compile and compile_config:  # Keras 3 writes {} for a model it never compiled
        _compile(model, compile_config, source)
    return model


def _read_zip(source: str) -> tuple[dict[str, Any], bytes]:
    """``config.json`` (parsed) and ``model.weights.h5`` (bytes) of a ``.keras`` file."""
    if not zipfile.is_zipfile(source):
        raise ModelFileError(f"'{source}' is not a Keras 3 .keras file (not a zip archive)")
    try:
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            missing = [name for name in MEMBERS if name not in names]
            if missing:
                raise ModelFileError(
                    f"'{source}' is not a Keras 3 .keras file: it lacks {', '.join(missing)} (a Keras 2 "
                    f"HDF5 or SavedModel file cannot be read; save it with Keras 3: model.save('m.keras'))"
                )
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(f"'{source}' is a damaged .keras file ({type(err).__name__}: {err})") from err
    if not isinstance(config, dict):
        raise ModelFileError(f"'{source}': config.json is not a JSON object")
    return config, weights


def _layer_entries(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``Sequential``'s layer entries, the first an ``InputLayer`` (a placeholder where it has none)."""
    if config.get("class_name") != "Sequential":
        raise ValueError(
            f"the model is a {config.get('class_name')!r}; load_keras reads Sequential models only "
            f"(lstmkit has no functional API)"
        )
    check_builtin(config, "the model")
    entries = config.get("config", {}).get("layers")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ValueError("config.json holds no list of layers")
    if not entries or entries[0].get("class_name") != "InputLayer":
        entries = [{"class_name": "InputLayer", "config": {}}, *entries]
    if len(entries) == 1:
        raise ValueError("the Sequential has no layers")
    for entry in entries[1:]:
        if entry.get("class_name") == "InputLayer":
            raise ValueError(f"layer {layer_name(entry)}: an InputLayer after the first layer")
    return entries


def _input_shape(config: dict[str, Any], entries: list[dict[str, Any]]) -> list[int | None]:
    """One sample's shape, from the ``InputLayer`` or the shape Keras built the model for."""
    first = entries[0]["config"]
    for key, value in first.items():
        if key in ("sparse", "ragged", "optional") and value:
            raise ValueError(f"layer {layer_name(entries[0])}: argument {key}={value!r} is not supported")
    shape = first.get("batch_shape") or first.get("batch_input_shape")
    if shape is None:
        shape = config["config"].get("build_input_shape") or entries[1].get("build_config", {}).get(
            "input_shape"
        )
    if not isinstance(shape, list) or len(shape) < 2:
        raise ValueError("the model records no input shape (build the Keras model before saving it)")
    return shape[1:]


def _load_weights(model: Sequential, entries: list[dict[str, Any]], weights: Any) -> None:
    """Set each layer's weights from ``layers/<snake_case class name>[_<n>]/...`` of the HDF5 file.

    Keras 3 names a Sequential's groups by class, numbered in order of appearance (``lstm``, ``lstm_1``),
    not by the layers' own names (``saving_lib._save_container_state``).
    """
    used: dict[str, int] = {}
    for layer, entry in zip(model.layers, entries, strict=True):
        assert isinstance(layer, Layer)
        base = snake_case(entry["class_name"])
        used[base] = used.get(base, -1) + 1
        group_name = f"layers/{base}" if used[base] == 0 else f"layers/{base}_{used[base]}"
        arrays: list[np.ndarray] = []
        for path in weight_paths(entry):
            group = weights.get(f"{group_name}/{path}")
            if group is not None:
                arrays += [np.asarray(group[str(i)]) for i in range(len(group))]
        expected = len(layer.keras_weights())
        if len(arrays) != expected:
            raise ValueError(
                f"layer {layer_name(entry)} expects {expected} weight arrays, '{group_name}' holds "
                f"{len(arrays)}"
            )
        if arrays:
            layer.set_weights(arrays)


def _compile(model: Sequential, compile_config: dict[str, Any], source: str) -> None:
    """Compile with the file's settings, or warn why the model loads uncompiled."""
    try:
        spec, clipnorm, clipvalue = _optimizer(compile_config.get("optimizer"))
        loss = _loss(compile_config.get("loss"))
        names = _metrics(compile_config)
        model.compile(spec, loss, names, clipnorm=clipnorm, clipvalue=clipvalue)
    except (ValueError, TypeError, KeyError) as err:
        warnings.warn(
            f"'{source}' loads uncompiled, with its weights: its compile settings are not ones lstmkit "
            f"knows ({err}); call compile(...) before training or evaluating it",
            stacklevel=3,
        )


def _optimizer(entry: Any) -> tuple[OptimizerSpec, float | None, float | None]:
    """The lstmkit optimizer of a serialized Keras one, and ``compile``'s ``clipnorm`` and ``clipvalue``
    (Keras's ``global_clipnorm`` is lstmkit's ``clipnorm``)."""
    if isinstance(entry, str):
        entry = {"module": "keras.optimizers", "class_name": entry, "config": {}}
    check_builtin(entry, "the optimizer")
    factory = _OPTIMIZERS.get(entry["class_name"].lower())
    if factory is None:
        raise ValueError(f"optimizer {entry['class_name']!r} (lstmkit knows {', '.join(_OPTIMIZERS)})")
    kwargs = dict(entry.get("config", {}))
    if kwargs.get("clipnorm") is not None:
        raise ValueError("optimizer clipnorm (per-tensor clipping; lstmkit clips the global norm)")
    clipnorm, clipvalue = kwargs.get("global_clipnorm"), kwargs.get("clipvalue")
    for key, inert in _OPTIMIZER_INERT.items():
        value = kwargs.pop(key, None)
        if key == "weight_decay" and value is not None:
            kwargs["weight_decay"] = value
        elif key == "use_ema" and value not in (None, inert):
            raise ValueError("optimizer use_ema=True")
    rate = kwargs.get("learning_rate", 0.0)
    if not isinstance(rate, int | float):
        schedule = rate.get("class_name") if isinstance(rate, dict) else rate
        raise ValueError(f"optimizer learning_rate is a {schedule!r} schedule, lstmkit takes a number")
    return factory(**kwargs), clipnorm, clipvalue


def _loss(entry: Any) -> str:
    """lstmkit's name of a Keras loss (a name, or a serialized Keras loss class)."""
    if isinstance(entry, str):
        losses.get_loss(entry)  # raises ValueError for a name lstmkit does not know
        return entry
    check_builtin(entry, "the loss")
    factory = _LOSSES.get(entry["class_name"])
    if factory is None:
        raise ValueError(f"loss {entry['class_name']!r}")
    kwargs = dict(entry.get("config", {}))
    kwargs.pop("name", None)
    if kwargs.pop("reduction", "sum_over_batch_size") != "sum_over_batch_size":
        raise ValueError(f"loss {entry['class_name']!r} with a reduction other than 'sum_over_batch_size'")
    return factory(**kwargs)


def _metrics(compile_config: dict[str, Any]) -> list[str]:
    for key in ("loss_weights", "weighted_metrics"):
        if compile_config.get(key) is not None:
            raise ValueError(f"{key}={compile_config[key]!r}")
    names = compile_config.get("metrics") or []
    unknown = [name for name in names if not isinstance(name, str) or name not in metrics.METRICS]
    if unknown:
        raise ValueError(f"metrics {unknown!r:.200}")
    return list(names)
