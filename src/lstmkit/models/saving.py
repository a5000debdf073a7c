"""Save and load models as one safetensors file (config + weights + optimizer state); nothing is unpickled.

Layout of the tensors: ``module.<name>`` for the network's ``state_dict``, ``optimizer.<param>.<key>`` for
the optimizer's per-parameter state. The JSON config (``kind = "keras_model"``) holds the architecture (for
``Sequential``), the compile settings, and the optimizer's hyper-parameters and scalar state.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.models.model import Model
from lstmkit.models.optimizers import OptimizerSpec
from lstmkit.nn._params import OLD_LAYER_NORM, pack_old_layer_norm
from lstmkit.utils.serialization import load_bundle, save_bundle

KIND = "keras_model"
WEIGHTS_KIND = "keras_weights"


def optimizer_to_bundle(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's ``state_dict`` into tensors and a JSON document."""
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state["param_groups"]
    ]
    config = {
        "class": f"{type(optimizer).__module__}:{type(optimizer).__qualname__}",
        "param_groups": groups,
        "scalars": scalars,
    }
    return tensors, config


def optimizer_from_bundle(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], config: dict[str, Any]
) -> None:
    """Load the state written by :func:`optimizer_to_bundle` into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entries in config.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in config["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _optimizer_class(path: str) -> type[torch.optim.Optimizer]:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith("torch.optim"):
        raise ValueError(
            f"saved optimizer class {path!r} is not a torch.optim optimizer; lstmkit will not import it"
        )
    cls = getattr(importlib.import_module(module_name), qualname, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError(f"saved optimizer class {path!r} does not exist in this torch")
    return cls


def model_to_bundle(model: Model) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(tensors, config)`` describing the model, its training settings and its optimizer state."""
    from lstmkit.models.sequential import Sequential

    model._require_built("save")
    tensors = {f"module.{k}": v for k, v in model.module.state_dict().items()}
    config: dict[str, Any] = {"kind": KIND, "name": model.name}
    if isinstance(model, Sequential):
        config["class"] = "Sequential"
        config["architecture"] = model.get_config()
        config["input_shape"] = list(model.stack.layers[0].built_input_shape or ())[1:]  # type: ignore[arg-type]
    else:
        cls = type(model.module)
        config["class"] = "Model"
        config["module_class"] = f"{cls.__module__}.{cls.__qualname__}"
        if model.input_signature is not None:  # to build a fresh instance's lazy layers when loading
            shape, dtype = model.input_signature
            config["input_shape"] = list(shape)
            config["input_dtype"] = "int64" if not dtype.is_floating_point else "float32"
    if model.compiled:
        config["compile"] = {
            "loss": model.loss_name,
            "metrics": [m.name for m in model.metrics],
            "clipnorm": model.clipnorm,
            "clipvalue": model.clipvalue,
        }
    if model.optimizer is not None:
        opt_tensors, opt_config = optimizer_to_bundle(model.optimizer)
        tensors.update(opt_tensors)
        config["optimizer"] = opt_config
    return tensors, config


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model`` to ``path`` (one safetensors file, atomically)."""
    tensors, config = model_to_bundle(model)
    save_bundle(path, tensors, config)


def save_weights(model: Model, path: str | os.PathLike[str]) -> None:
    """Write only the network's weights (``kind = "keras_weights"``)."""
    model._require_built("save_weights")
    tensors = {f"module.{k}": v for k, v in model.module.state_dict().items()}
    save_bundle(path, tensors, {"kind": WEIGHTS_KIND})


def load_weights(model: Model, path: str | os.PathLike[str]) -> None:
    """Load weights written by :func:`save_weights` or :func:`save_model` into a built ``model``."""
    tensors, config = load_bundle(path)
    if config.get("kind") not in (KIND, WEIGHTS_KIND):
        raise ValueError(f"'{path}' holds an lstmkit file of kind {config.get('kind')!r}, not model weights")
    restore_into(model, tensors, {}, str(path))


def load_model(path: str | os.PathLike[str], module: nn.Module | None = None) -> Model:
    """Load a model saved with ``model.save``.

    A ``Sequential`` of lstmkit layers is rebuilt from its config. A ``Model`` around a custom
    ``nn.Module`` is not rebuilt from code (nothing is unpickled or imported): pass a fresh instance as
    ``module`` and its weights are loaded into it.

    Raises:
        FileNotFoundError: no such file.
        ValueError: corrupt, truncated or foreign file; a custom model without ``module``; mismatched weights.
    """
    tensors, config = load_bundle(path)
    if config.get("kind") != KIND:
        raise ValueError(
            f"'{path}' holds an lstmkit model of kind {config.get('kind')!r}, not a Keras-style model"
        )
    try:
        model = model_from_config(config, module, str(path))
    except (KeyError, TypeError, AttributeError, IndexError) as err:  # a config lstmkit did not write
        raise ValueError(
            f"'{path}' holds a model config lstmkit cannot read ({type(err).__name__}: {err})"
        ) from err
    restore_into(model, tensors, config, str(path))
    return model


def model_from_config(config: dict[str, Any], module: nn.Module | None, source: str) -> Model:
    """An unbuilt-then-built model of the saved architecture, compiled as saved (without weights)."""
    from lstmkit.layers import LAYERS
    from lstmkit.models.sequential import Sequential

    model: Model
    if config.get("class") == "Sequential":
        layers = []
        for entry in config["architecture"]["layers"]:
            cls = LAYERS.get(entry["class_name"])
            if cls is None:
                raise ValueError(f"'{source}' uses unknown layer {entry['class_name']!r}")
            layers.append(cls.from_config(entry["config"]))
        model = Sequential(layers, name=config.get("name", "sequential"))
        model.build((None, *config["input_shape"]))
    elif config.get("class") == "Model":
        if module is None:
            raise ValueError(
                f"'{source}' holds the weights of a custom module {config.get('module_class')}; lstmkit "
                f"never imports code from a model file. Pass a fresh instance: "
                f"load_model(path, module=MyNet())"
            )
        model = Model(module, name=config.get("name", "model"))
        if "input_shape" in config:  # lazy layers of the fresh instance: build them as the saved one was
            dtype = torch.int64 if config.get("input_dtype") == "int64" else torch.float32
            model._build_from(torch.zeros((2, *(int(d) for d in config["input_shape"])), dtype=dtype))
    else:
        raise ValueError(f"'{source}' holds an unknown model class {config.get('class')!r}")
    compiled = config.get("compile")
    if compiled is not None and compiled["loss"] is not None:
        from lstmkit.models.losses import LOSSES

        if compiled["loss"] in LOSSES:
            optimizer = config.get("optimizer")
            spec: Any = "rmsprop"
            if optimizer is not None:
                kwargs = {k: v for k, v in optimizer["param_groups"][0].items() if k != "params"}
                spec = OptimizerSpec(_optimizer_class(optimizer["class"]), _init_kwargs(kwargs))
            model.compile(
                spec,
                compiled["loss"],
                compiled["metrics"],
                clipnorm=compiled["clipnorm"],
                clipvalue=compiled["clipvalue"],
            )
    return model


def _init_kwargs(group: dict[str, Any]) -> dict[str, Any]:
    """Hyper-parameters that the optimizer constructors accept (the state dict restores the rest)."""
    keep = {
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "momentum",
        "alpha",
        "initial_accumulator_value",
        "nesterov",
    }
    return {k: tuple(v) if k == "betas" else v for k, v in group.items() if k in keep}


def restore_into(model: Model, tensors: dict[str, Tensor], config: dict[str, Any], source: str) -> None:
    """Load weights (strictly) and, if present, the optimizer state into ``model``."""
    weights = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
    if not model.built:
        raise ValueError(
            f"'{source}': the custom module must be built before loading weights into it, and this file "
            f"does not record the input shape to build it from (it was saved before the module saw an "
            f"input); run one forward pass first, module(x) on a batch of inputs, then load"
        )
    try:
        model.module.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise ValueError(f"'{source}' does not match the model's weights: {err}") from err
    if "optimizer" in config and model.compiled:
        if model.optimizer is None:
            assert isinstance(model.optimizer_spec, OptimizerSpec)
            from lstmkit.models.optimizers import build_optimizer

            model.optimizer = build_optimizer(model.optimizer_spec, model.module)
        try:
            if any(_OLD_LAYER_NORM_KEY in key for key in weights):
                tensors, config = _pack_layer_norm_optimizer_state(model.module, tensors, config)
            optimizer_from_bundle(model.optimizer, tensors, config["optimizer"])
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"'{source}' holds an optimizer state that does not fit the model: {err}"
            ) from err


_OLD_LAYER_NORM_KEY = f".{OLD_LAYER_NORM[0]}"
"""In a file of lstmkit 0.1, whose LSTM cells kept six layer-norm vectors (now one ``ln_affine``)."""


def _pack_layer_norm_optimizer_state(
    module: nn.Module, tensors: dict[str, Tensor], config: dict[str, Any]
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """An optimizer state saved by lstmkit 0.1 regrouped for one ``ln_affine`` per cell.

    There each layer-norm cell had six parameters (the gains and biases of ``LN_ih``, ``LN_hh``, ``LN_c``,
    interleaved) where it now has ``ln_affine`` ``(2, 9H)``; the optimizer indexed the trainable parameters
    in module order. Their per-parameter tensors (Adam's moments, SGD's momentum) are packed as the
    weights are (``nn._params.pack_layer_norm_keys``); scalars and 0-d tensors (``step``) come from the
    first of the six.
    """
    opt = config["optimizer"]
    if len(opt["param_groups"]) != 1:
        raise ValueError("an lstmkit 0.1 optimizer state with several parameter groups cannot be regrouped")
    names = [name for name, p in module.named_parameters() if p.requires_grad]
    old_tensors: dict[int, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, field = key.split(".", 2)
            old_tensors.setdefault(int(index), {})[field] = value
    old_scalars = {int(k): v for k, v in opt.get("scalars", {}).items()}
    new_tensors = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    new_scalars: dict[str, Any] = {}
    old = 0
    for new, name in enumerate(names):
        width = len(OLD_LAYER_NORM) if name.rsplit(".", 1)[-1].startswith("ln_affine") else 1
        sources = [old_tensors.get(old + k, {}) for k in range(width)]
        for field, first in sources[0].items():
            if width > 1 and first.dim() > 0:  # moments, laid out as the weights they belong to
                value = pack_old_layer_norm([source[field] for source in sources])
            else:
                value = first
            new_tensors[f"optimizer.{new}.{field}"] = value
        if old in old_scalars:
            new_scalars[str(new)] = old_scalars[old]
        old += width
    if old != len(opt["param_groups"][0]["params"]):
        raise ValueError(
            f"the saved optimizer has {len(opt['param_groups'][0]['params'])} parameters; the model had "
            f"{old} in lstmkit 0.1's layout"
        )
    group = {**opt["param_groups"][0], "params": list(range(len(names)))}
    return new_tensors, {**config, "optimizer": {**opt, "param_groups": [group], "scalars": new_scalars}}
