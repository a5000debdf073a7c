"""An optimizer's state in a model file: written as tensors and JSON, checked before torch loads it back.

Tensors are named ``optimizer.<param>.<key>``; the JSON holds the class, the parameter groups (with the
parameters' names, so the same groups come back) and the scalar state. Nothing in a file reaches an
optimizer unchecked: torch's fused steps trust a state's shapes and write past a smaller tensor.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.models.file_errors import ModelFileError, unreadable
from lstmkit.models.optimizers import OptimizerSpec, build_optimizer
from lstmkit.nn._params import OLD_LAYER_NORM, pack_old_layer_norm
from lstmkit.utils.validation import check_bool, check_real


def optimizer_to_bundle(
    optimizer: torch.optim.Optimizer, module: nn.Module
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split an optimizer's ``state_dict`` into tensors and a JSON document.

    Each parameter group's parameters are recorded by their names in ``module`` (``param_names``), so
    that loading rebuilds the same groups (per-group learning rates, frozen layers left out). An optimizer
    that also updates tensors outside ``module`` is saved by position, with a warning.
    """
    names = {id(p): name for name, p in module.named_parameters(remove_duplicate=False)}
    missing = [tuple(p.shape) for g in optimizer.param_groups for p in g["params"] if id(p) not in names]
    if missing:
        warnings.warn(
            f"the optimizer updates tensors that are not the model's parameters (shapes {missing[:3]}); its "
            f"state is saved by position, and loading it needs an optimizer over the same tensors in the "
            f"same order",
            stacklevel=3,
        )
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
    if not missing:
        config["param_names"] = [[names[id(p)] for p in g["params"]] for g in optimizer.param_groups]
    return tensors, config


def optimizer_from_bundle(
    optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], config: dict[str, Any]
) -> None:
    """Load the state written by :func:`optimizer_to_bundle` into ``optimizer``.

    Raises:
        ValueError: a tensor not named ``optimizer.<parameter index>.<key>``; a state that does not fit the
            optimizer's parameters (see :func:`lstmkit.models.optimizers.check_saved_state`).
        TypeError: a group's setting or a counter of the wrong type.
    """
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            index, _, key = name.removeprefix("optimizer.").partition(".")
            if not (_is_index(index) and key):
                raise ValueError(f"its tensor {name!r} is not named optimizer.<parameter index>.<state key>")
            state.setdefault(int(index), {})[key] = value
    for index, entries in config.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [
        {k: tuple(v) if k == "betas" and isinstance(v, list) else v for k, v in g.items()}
        for g in config["param_groups"]
    ]
    names = [name for group in config.get("param_names", []) for name in group]
    check_saved_state(optimizer, state, groups, names)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _is_index(text: Any) -> bool:
    """Whether ``text`` spells a parameter index (ASCII digits: ``int`` takes other scripts' too)."""
    return isinstance(text, str) and text.isascii() and text.isdigit()


def check_saved_optimizer(saved: Any, source: str) -> None:
    """Refuse an optimizer config not laid out as :func:`optimizer_to_bundle` writes it."""
    if not isinstance(saved, dict):
        raise unreadable(source, "'optimizer' must be an object", saved)
    if not isinstance(saved.get("class"), str):
        raise unreadable(source, "the optimizer's 'class' must be a string", saved.get("class"))
    groups = saved.get("param_groups")
    if not (isinstance(groups, list) and groups and all(_is_group(group) for group in groups)):
        expected = "the optimizer's 'param_groups' must be a non-empty list of objects with 'params' indices"
        raise unreadable(source, expected, groups)
    scalars = saved.get("scalars", {})
    if not (
        isinstance(scalars, dict) and all(_is_index(i) and isinstance(s, dict) for i, s in scalars.items())
    ):
        raise unreadable(source, "the optimizer's 'scalars' must map parameter indices to objects", scalars)
    names = saved.get("param_names", [])
    if not (isinstance(names, list) and all(is_names(group) for group in names)):
        raise unreadable(source, "the optimizer's 'param_names' must be lists of parameter names", names)


def _is_group(group: Any) -> bool:
    params = group.get("params") if isinstance(group, dict) else None
    return isinstance(params, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in params)


def is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def optimizer_class(path: str) -> type[torch.optim.Optimizer] | str:
    """The saved optimizer's class, or why it cannot be had (lstmkit imports nothing outside torch.optim)."""
    module_name, _, qualname = path.partition(":")
    if not (module_name == "torch.optim" or module_name.startswith("torch.optim.")):
        return f"its optimizer class {path!r} is not a torch.optim optimizer, and lstmkit will not import it"
    try:
        cls = getattr(importlib.import_module(module_name), qualname, None)
    except ImportError:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        return f"its optimizer class {path!r} does not exist in this torch"
    return cls


def saved_optimizer(
    spec: OptimizerSpec, module: nn.Module, saved: dict[str, Any], source: str
) -> torch.optim.Optimizer:
    """The optimizer over the saved parameter groups (by parameter name), or, for a file written before
    lstmkit recorded them, over the trainable parameters in module order."""
    names = saved.get("param_names")
    if names is None:
        return build_optimizer(spec, module)
    parameters = dict(module.named_parameters(remove_duplicate=False))
    unknown = [name for group in names for name in group if name not in parameters]
    if unknown:
        raise ModelFileError(f"'{source}' holds an optimizer over parameters the model lacks: {unknown[:3]}")
    groups = [{"params": [parameters[name] for name in group]} for group in names]
    return build_optimizer(spec, module, groups)


OLD_LAYER_NORM_KEY = f".{OLD_LAYER_NORM[0]}"
"""In a file of lstmkit 0.1, whose LSTM cells kept six layer-norm vectors (now one ``ln_affine``)."""


def pack_layer_norm_optimizer_state(
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


PARAMETER_SHAPED = frozenset(
    {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "exp_inf", "momentum_buffer", "square_avg", "grad_avg"}
    | {"acc_delta", "sum", "prev", "step_size", "ax"}
)
"""torch.optim's per-parameter state laid out as its parameter: Adam's, AdamW's and Adamax's moments,
SGD's and RMSprop's momentum, RMSprop's and Adadelta's averages, Adagrad's sum, Rprop's and ASGD's."""

COUNTERS = frozenset({"step", "eta", "mu", "mu_product"})
"""torch.optim's per-parameter state of one number each (a 0-d tensor, or a number in older files)."""


def check_saved_group(cls: type[torch.optim.Optimizer], group: Mapping[str, Any]) -> None:
    """Refuse a saved parameter group whose settings are not of the kinds of ``cls``'s defaults: a number
    where the default is a number, ``True`` or ``False`` for a flag, a pair of numbers for ``betas``.

    ``load_state_dict`` takes a saved group's settings as they are, and the optimizer's step is the first
    to use them. Settings ``cls`` does not take (a scheduler's ``initial_lr``) are left alone.

    Raises:
        TypeError: a setting of the wrong type.
        ValueError: a number that is NaN or infinite.
    """
    for name, parameter in inspect.signature(cls).parameters.items():
        if name not in group:
            continue
        default, value, label = parameter.default, group[name], f"{cls.__name__} {name}"
        if isinstance(default, bool) or (name in ("fused", "foreach") and value is not None):
            check_bool(label, value)
        elif isinstance(default, int | float):
            check_real(label, value)
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple) or len(value) != len(default):
                raise TypeError(
                    f"{label} must be {len(default)} numbers, got {type(value).__name__} {value!r}"
                )
            for number in value:
                check_real(label, number)


def check_saved_state(
    optimizer: torch.optim.Optimizer,
    state: Mapping[int, Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    names: Sequence[str] = (),
) -> None:
    """Refuse a saved state (a ``state_dict``'s ``state`` and ``param_groups``) that does not fit
    ``optimizer``'s parameters, before ``optimizer.load_state_dict`` takes it.

    torch checks only the number and the sizes of the groups. Its fused steps (Adam, AdamW, SGD, Adagrad)
    then update every moment as if it had its parameter's shape, writing past the end of a smaller one.
    Here each group's settings are checked (:func:`check_saved_group`), every state must belong to a
    parameter of a group, each per-parameter tensor (:data:`PARAMETER_SHAPED`) must be a dense tensor of
    its parameter's shape and of a floating dtype (complex for a complex parameter), and each counter
    (:data:`COUNTERS`) one real number (``step`` >= 0). Other keys (a later torch's) are left to torch.
    The device needs no check: ``load_state_dict`` moves every tensor to its parameter's device (and
    casts the moments to its dtype).

    Args:
        optimizer: the optimizer the state is for.
        state: saved parameter index -> state key -> value.
        groups: the saved parameter groups, ``params`` listing the saved indices.
        names: the saved parameters' names in the groups' order, for the messages.

    Raises:
        ValueError: groups of other sizes, a state of no parameter, a tensor of the wrong shape or dtype, a
            counter that is not one finite number; the message names the parameter and the state key.
        TypeError: a group's setting or a counter of the wrong type.
    """
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    saved_sizes = [len(g["params"]) for g in groups]
    if saved_sizes != sizes:
        raise ValueError(f"its parameter groups have {saved_sizes} parameters, the model's optimizer {sizes}")
    for group in groups:
        check_saved_group(type(optimizer), group)
    indices = [index for group in groups for index in group["params"]]
    position = {index: k for k, index in enumerate(indices)}
    if len(position) != len(indices):
        raise ValueError(f"its parameter groups list a parameter twice: {indices}")
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for index, entries in state.items():
        if index not in position:
            raise ValueError(f"it holds a state of parameter {index}, which none of its groups lists")
        k = position[index]
        label = f"parameter {index} ({names[k]})" if len(names) == len(indices) else f"parameter {index}"
        for key, value in entries.items():
            _check_state_entry(f"the {key!r} state of {label}", key, value, parameters[k])


def _check_state_entry(where: str, key: str, value: Any, parameter: Tensor) -> None:
    if key in PARAMETER_SHAPED:
        if value is None and key == "momentum_buffer":  # SGD's, before its first step
            return
        if not isinstance(value, Tensor):
            raise ValueError(f"{where} must be a tensor of shape {tuple(parameter.shape)}, got {value!r}")
        if value.shape != parameter.shape:
            raise ValueError(
                f"{where} has shape {tuple(value.shape)}, the parameter {tuple(parameter.shape)}"
            )
        if value.layout != torch.strided:
            raise ValueError(f"{where} is a {value.layout} tensor; expected a dense one")
        kind = "complex" if parameter.is_complex() else "floating"
        if not (value.is_complex() if kind == "complex" else value.is_floating_point()):
            raise ValueError(
                f"{where} holds {value.dtype}; expected a {kind} dtype, as the parameter's {parameter.dtype}"
            )
    elif key in COUNTERS:
        if isinstance(value, Tensor):
            if value.numel() != 1 or value.dtype == torch.bool or value.is_complex():
                raise ValueError(
                    f"{where} must be one real number, got a tensor of {value.dtype} and shape "
                    f"{tuple(value.shape)}"
                )
            value = value.item()
        check_real(where, value, minimum=0 if key == "step" else None)
