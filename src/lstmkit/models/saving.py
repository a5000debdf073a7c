"""Save and load models as one safetensors file (config + weights + optimizer state); nothing is unpickled.

Layout of the tensors: ``module.<name>`` for the network's ``state_dict``, ``optimizer.<param>.<key>`` for
the optimizer's per-parameter state. The JSON config (``kind = "keras_model"``) holds the architecture (for
``Sequential``), the compile settings, and the optimizer's hyper-parameters and scalar state.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.models.file_errors import ModelFileError, unreadable
from lstmkit.models.model import Model
from lstmkit.models.optimizer_state import (
    OLD_LAYER_NORM_KEY,
    check_saved_group,
    check_saved_optimizer,
    is_names,
    optimizer_class,
    optimizer_from_bundle,
    optimizer_to_bundle,
    pack_layer_norm_optimizer_state,
    saved_optimizer,
)
from lstmkit.models.optimizers import OptimizerSpec, get_optimizer
from lstmkit.utils.serialization import load_bundle, save_bundle

KIND = "keras_model"
WEIGHTS_KIND = "keras_weights"


def model_to_bundle(model: Model) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(tensors, config)`` describing the model, its training settings and its optimizer state."""
    from lstmkit.models.sequential import Sequential

    model._require_built("save")
    tensors = {f"module.{k}": v for k, v in model.module.state_dict().items()}
    config: dict[str, Any] = {"kind": KIND, "name": model.name}
    frozen = [name for name, p in model.module.named_parameters() if not p.requires_grad]
    if frozen:  # a torch-style requires_grad_(False), restored on load (layer.trainable is in the layers')
        config["frozen"] = frozen
    if isinstance(model, Sequential):
        config["class"] = "Sequential"
        config["architecture"] = model.get_config()
        # the shape it was built on (from data: its steps too, which a Flatten before a Dense needs)
        built = model.build_shape or model.stack.layers[0].built_input_shape or ()
        config["input_shape"] = list(built)[1:]  # type: ignore[arg-type]
    else:
        cls = type(model.module)
        config["class"] = "Model"
        config["module_class"] = f"{cls.__module__}.{cls.__qualname__}"
        if model.input_signature is not None:  # to build a fresh instance's lazy layers when loading
            shape, dtype = model.input_signature
            config["input_shape"] = list(shape)
            config["input_dtype"] = "int64" if not dtype.is_floating_point else "float32"
    if model.compiled:
        from lstmkit.models.metrics import METRICS

        config["compile"] = {
            "loss": model.loss_name,
            "loss_builtin": model.loss_builtin,
            "metrics": [m.name for m in model.metrics],
            # a Metric of the user's that shares a name of lstmkit's is not lstmkit's
            "custom_metrics": [m.name for m in model.metrics if type(m) is not METRICS.get(m.name)],
            "clipnorm": model.clipnorm,
            "clipvalue": model.clipvalue,
        }
    if model.optimizer is not None:
        opt_tensors, opt_config = optimizer_to_bundle(model.optimizer, model.module)
        tensors.update(opt_tensors)
        config["optimizer"] = opt_config
    elif isinstance(model.optimizer_spec, OptimizerSpec):  # compiled, not trained yet: the choice only
        spec = model.optimizer_spec
        config["optimizer_spec"] = {
            "class": f"{spec.cls.__module__}:{spec.cls.__qualname__}",
            "kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in spec.kwargs.items()},
            "name": spec.name,
        }
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
        raise ModelFileError(
            f"'{path}' holds an lstmkit file of kind {config.get('kind')!r}, not model weights"
        )
    restore_into(model, tensors, {}, str(path))


def load_model(
    path: str | os.PathLike[str], module: nn.Module | None = None, *, compile: bool = True
) -> Model:
    """Load a model saved with ``model.save``.

    A ``Sequential`` of lstmkit layers is rebuilt from its config. A ``Model`` around a custom
    ``nn.Module`` is not rebuilt from code (nothing is unpickled or imported): pass a fresh instance as
    ``module`` and its weights are loaded into it.

    With ``compile`` (the default) the model comes back compiled as it was saved, optimizer state
    included. Where that cannot be rebuilt from the file alone (a callable loss, a custom ``Metric``, an
    optimizer class outside ``torch.optim``) the model loads uncompiled with its weights, and a warning
    says why: call ``compile`` before training it again. ``compile=False`` loads the weights only, as Keras.

    Raises:
        FileNotFoundError: no such file.
        ValueError: corrupt, truncated or foreign file; a config lstmkit cannot read; a custom model without
            ``module``; mismatched weights or optimizer state. The message names the file.
    """
    tensors, config = load_bundle(path)
    if config.get("kind") != KIND:
        raise ModelFileError(
            f"'{path}' holds an lstmkit model of kind {config.get('kind')!r}, not a Keras-style model"
        )
    try:
        model = model_from_config(config, module, str(path), compile=compile)
        restore_into(model, tensors, config, str(path))
    except ModelFileError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:  # a config not lstmkit's
        raise ModelFileError(
            f"'{path}' holds a model config lstmkit cannot read ({type(err).__name__}: {err})"
        ) from err
    return model


def model_from_config(
    config: dict[str, Any], module: nn.Module | None, source: str, *, compile: bool = True
) -> Model:
    """An unbuilt-then-built model of the saved architecture, compiled as saved (without weights)."""
    from lstmkit.layers import LAYERS
    from lstmkit.models.sequential import Sequential

    model: Model
    if config.get("class") == "Sequential":
        layers = []
        for entry in config["architecture"]["layers"]:
            cls = LAYERS.get(entry["class_name"])
            if cls is None:
                raise ModelFileError(f"'{source}' uses unknown layer {entry['class_name']!r}")
            layers.append(cls.from_config(entry["config"]))
        model = Sequential(layers, name=config.get("name", "sequential"))
        model.build((None, *config["input_shape"]))
    elif config.get("class") == "Model":
        if module is None:
            raise ModelFileError(
                f"'{source}' holds the weights of a custom module {config.get('module_class')}; lstmkit "
                f"never imports code from a model file. Pass a fresh instance: "
                f"load_model(path, module=MyNet())"
            )
        model = Model(module, name=config.get("name", "model"))
        if "input_shape" in config:  # lazy layers of the fresh instance: build them as the saved one was
            dtype = torch.int64 if config.get("input_dtype") == "int64" else torch.float32
            model._build_from(torch.zeros((2, *(int(d) for d in config["input_shape"])), dtype=dtype))
    else:
        raise ModelFileError(f"'{source}' holds an unknown model class {config.get('class')!r}")
    compiled = config.get("compile")
    if compile and compiled is not None:
        if "optimizer" in config:
            check_saved_optimizer(config["optimizer"], source)
        spec = _compile_spec(compiled, config.get("optimizer"), config.get("optimizer_spec"))
        if isinstance(spec, str):
            warnings.warn(
                f"'{source}' loads uncompiled, with its weights but without its optimizer state: {spec}; "
                f"call compile(...) before training or evaluating it",
                stacklevel=3,
            )
        else:
            model.compile(
                spec,
                compiled["loss"],
                compiled["metrics"],
                clipnorm=compiled["clipnorm"],
                clipvalue=compiled["clipvalue"],
            )
    return model


def _compile_spec(
    compiled: dict[str, Any], optimizer: dict[str, Any] | None, chosen: dict[str, Any] | None
) -> OptimizerSpec | str:
    """The optimizer spec to compile a loaded model with (from the saved optimizer, or the one chosen at
    ``compile`` for a model saved before training), or why the file's settings cannot be rebuilt."""
    from lstmkit.models.losses import get_loss, is_named
    from lstmkit.models.metrics import METRICS

    # files written before "loss_builtin" hold a registry name for lstmkit's losses only
    if not compiled.get("loss_builtin", is_named(compiled["loss"])):
        return f"it was compiled with a custom loss ({compiled['loss']!r}), which a file does not hold"
    try:
        get_loss(compiled["loss"])
    except (ValueError, TypeError) as err:  # a damaged file, or one of a later lstmkit
        return f"its loss {compiled['loss']!r} cannot be rebuilt ({err})"
    listed = set(compiled.get("custom_metrics", ()))
    custom = [name for name in compiled["metrics"] if name not in METRICS or name in listed]
    if custom:
        names = ", ".join(map(repr, custom))
        return f"it was compiled with custom metrics ({names}), which a file does not hold"
    if optimizer is None:
        if chosen is None:  # a file of an earlier lstmkit: compile's default
            spec = get_optimizer("rmsprop")
            assert isinstance(spec, OptimizerSpec)
            return spec
        chosen_cls = optimizer_class(chosen["class"])
        if isinstance(chosen_cls, str):
            return chosen_cls
        check_saved_group(chosen_cls, chosen["kwargs"])
        kwargs = {k: tuple(v) if k == "betas" else v for k, v in chosen["kwargs"].items()}
        return OptimizerSpec(chosen_cls, kwargs, chosen.get("name", ""))
    cls = optimizer_class(optimizer["class"])
    if isinstance(cls, str):
        return cls
    check_saved_group(cls, optimizer["param_groups"][0])
    kwargs = {k: v for k, v in optimizer["param_groups"][0].items() if k != "params"}
    return OptimizerSpec(cls, _init_kwargs(kwargs))


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
    """Load weights (strictly) and, if present, the optimizer state into ``model``.

    Raises:
        ValueError: weights, frozen parameters or an optimizer state that do not fit the model, or an
            optimizer config not laid out as lstmkit writes it; the message names ``source``.
    """
    weights = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
    if not model.built:
        raise ModelFileError(
            f"'{source}': the custom module must be built before loading weights into it, and this file "
            f"does not record the input shape to build it from (it was saved before the module saw an "
            f"input); run one forward pass first, module(x) on a batch of inputs, then load"
        )
    try:
        model.module.load_state_dict(weights, strict=True)
    except RuntimeError as err:
        raise ModelFileError(f"'{source}' does not match the model's weights: {err}") from err
    parameters = dict(model.module.named_parameters(remove_duplicate=False))
    frozen = config.get("frozen", [])
    if not is_names(frozen):
        raise unreadable(source, "'frozen' must be a list of parameter names", frozen)
    unknown = [name for name in frozen if name not in parameters]
    if unknown:
        raise ModelFileError(f"'{source}' freezes parameters the model does not have: {unknown[:3]}")
    for name in frozen:
        parameters[name].requires_grad_(False)
    if "optimizer" in config and model.compiled:
        check_saved_optimizer(config["optimizer"], source)
        if model.optimizer is None:
            assert isinstance(model.optimizer_spec, OptimizerSpec)
            spec, saved = model.optimizer_spec, config["optimizer"]
            model.optimizer = saved_optimizer(spec, model.module, saved, source)
        try:
            if any(OLD_LAYER_NORM_KEY in key for key in weights):
                tensors, config = pack_layer_norm_optimizer_state(model.module, tensors, config)
            optimizer_from_bundle(model.optimizer, tensors, config["optimizer"])
        except (ValueError, TypeError, KeyError) as err:
            raise ModelFileError(
                f"'{source}' holds an optimizer state that does not fit the model: {err}"
            ) from err
