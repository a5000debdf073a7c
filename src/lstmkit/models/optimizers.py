"""Optimizer registry: Keras's optimizer names (with Keras's default hyper-parameters) to torch optimizers.

Optimizers are created when the model's weights exist (lazy layers build on the first batch), so
``compile`` keeps a recipe, :class:`OptimizerSpec`, and :func:`build_optimizer` makes the torch object.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lstmkit.utils.validation import check_probability, check_real

# name -> (torch class, Keras defaults translated to torch argument names)
OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7, "weight_decay": 0.004}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.0}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-3, "initial_accumulator_value": 0.1, "eps": 1e-7}),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """A deferred optimizer: a torch optimizer class and its keyword arguments.

    Raises:
        TypeError: an argument that ``cls`` does not take (checked here, when the spec is made, so a bad
            argument fails at ``compile`` rather than at ``fit``).
    """

    cls: type[torch.optim.Optimizer]
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        check_arguments(self.cls, self.kwargs, aliases=_keras_aliases(self.name))


# Keras's argument names that torch spells differently, per optimizer (Keras's ``beta_1``/``beta_2`` are
# torch's ``betas`` pair, handled in _torch_names)
KERAS_NAMES: dict[str, dict[str, str]] = {
    "adam": {"epsilon": "eps"},
    "adamw": {"epsilon": "eps"},
    "sgd": {},
    "rmsprop": {"rho": "alpha", "epsilon": "eps"},
    "adagrad": {"epsilon": "eps"},
}

KERAS_CHECKS: dict[str, Any] = {
    "beta_1": check_probability,
    "beta_2": check_probability,
    "rho": check_probability,
    "epsilon": lambda name, value: check_real(name, value, positive=True),
}
"""The ranges of Keras's own argument names: decay rates in [0, 1), epsilon > 0."""

# Keras's per-optimizer clipping, and where lstmkit configures clipping instead
CLIPPING = {
    "clipnorm": "Keras's clipnorm clips each gradient tensor's norm; lstmkit clips the global norm of all of "
    "them, as Keras's global_clipnorm does: model.compile(..., clipnorm=...)",
    "global_clipnorm": "use model.compile(..., clipnorm=...), which clips the global gradient norm",
    "clipvalue": "use model.compile(..., clipvalue=...)",
}


def _spec(name: str, learning_rate: float | None, kwargs: dict[str, Any]) -> OptimizerSpec:
    cls, defaults = OPTIMIZERS[name]
    label = cls.__name__
    kwargs = _torch_names(name, label, kwargs, defaults)
    if "lr" in kwargs:  # Keras 2's alias and torch's own name: the same setting as learning_rate
        lr = kwargs.pop("lr")
        if learning_rate not in (None, defaults["lr"], lr):  # learning_rate= given too, and differs
            raise ValueError(f"got learning_rate={learning_rate!r} and lr={lr!r}; pass one of them")
        learning_rate = lr
    merged = {**defaults, **kwargs}
    if learning_rate is not None:
        if not isinstance(learning_rate, int | float) or not learning_rate > 0:
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
        merged["lr"] = float(learning_rate)
    if "weight_decay" in merged:  # None is Keras's default: no decay
        decay = merged["weight_decay"]
        merged["weight_decay"] = 0.0 if decay is None else check_real("weight_decay", decay, minimum=0.0)
    # Keras decays apart from the gradient (p -= lr * wd * p): Adam with it is AdamW; plain SGD's
    # p - lr (g + wd p) is the same step; the others add wd * p to the gradient, which is not
    decoupled = name == "adamw" or (name == "sgd" and not merged.get("momentum"))
    if merged.get("weight_decay") and name == "adam":
        cls = torch.optim.AdamW
    elif merged.get("weight_decay") and not decoupled:
        raise ValueError(
            f"{label}(weight_decay={merged['weight_decay']!r}) is not supported: Keras decays the weights "
            f"apart from the gradient (p -= learning_rate * weight_decay * p) and torch's {label} adds "
            f"weight_decay * p to the gradient instead; use AdamW(weight_decay=...), or pass "
            f"torch.optim.{label} itself for torch's L2 penalty"
        )
    return OptimizerSpec(cls, merged, name)


def _betas_names(name: str) -> set[str]:
    return {"beta_1", "beta_2"} if name in ("adam", "adamw") else set()


def _keras_aliases(name: str) -> set[str]:
    """Keras's argument names that the factory of optimizer ``name`` takes besides torch's."""
    return set(KERAS_NAMES.get(name, {})) | _betas_names(name)


def _torch_names(name: str, label: str, kwargs: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with Keras's argument names in torch's spelling; refuses Keras's clipping arguments."""
    clipping = sorted(CLIPPING.keys() & kwargs.keys())
    if clipping:
        raise TypeError(f"{label}({clipping[0]}=...) is not supported: {CLIPPING[clipping[0]]}")
    renamed: dict[str, Any] = {}
    given: dict[str, str] = {}  # torch's name -> the name it was given as
    for key, value in kwargs.items():
        if key in KERAS_CHECKS:  # Keras's names reach torch only at fit, whose errors do not name them
            value = KERAS_CHECKS[key](f"{label} {key}", value)
        torch_key = KERAS_NAMES[name].get(key, key)
        if torch_key in renamed:
            raise ValueError(
                f"{label} got {given[torch_key]}= and {key}=, the same setting; pass one of them"
            )
        renamed[torch_key], given[torch_key] = value, key
    if _betas_names(name) & kwargs.keys():
        if "betas" in kwargs:
            raise ValueError(f"{label} got beta_1/beta_2 and betas, the same setting; pass one of them")
        beta_1, beta_2 = defaults["betas"]
        renamed["betas"] = (renamed.pop("beta_1", beta_1), renamed.pop("beta_2", beta_2))
    return renamed


def check_arguments(
    cls: type[torch.optim.Optimizer], kwargs: dict[str, Any], aliases: Iterable[str] = ()
) -> None:
    """Refuse keyword arguments that ``cls`` does not take, naming the ones it does (and their ``aliases``).

    Raises:
        TypeError: an unknown argument.
    """
    accepted = set(inspect.signature(cls).parameters) - {"params"}
    unknown = sorted(kwargs.keys() - accepted)
    if unknown:
        names = ", ".join(sorted(accepted | set(aliases)))
        raise TypeError(f"{cls.__name__} got an unknown argument {unknown[0]!r}; it accepts {names}")


def Adam(learning_rate: float = 1e-3, **kwargs: Any) -> OptimizerSpec:
    """Adam (Kingma & Ba 2014, arXiv:1412.6980v9) with Keras's defaults and argument names.

    ``beta_1``, ``beta_2`` and ``epsilon`` are Keras's names (torch's ``betas`` and ``eps`` work too);
    other keyword arguments go to ``torch.optim.Adam``. ``weight_decay`` is Keras's: decoupled from the
    gradient, ``p -= learning_rate * weight_decay * p`` each step, which makes this torch's ``AdamW``.
    """
    return _spec("adam", learning_rate, kwargs)


def AdamW(learning_rate: float = 1e-3, **kwargs: Any) -> OptimizerSpec:
    """AdamW (Loshchilov & Hutter 2017, arXiv:1711.05101v3) with Keras's defaults and argument names."""
    return _spec("adamw", learning_rate, kwargs)


def SGD(learning_rate: float = 1e-2, **kwargs: Any) -> OptimizerSpec:
    """Stochastic gradient descent (``momentum=`` and ``nesterov=`` go to torch).

    Raises:
        ValueError: ``weight_decay`` above 0 with ``momentum`` (torch's SGD adds it to the gradient, which
            momentum then carries; Keras decays apart). Without momentum the two are the same step.
    """
    return _spec("sgd", learning_rate, kwargs)


def RMSprop(learning_rate: float = 1e-3, **kwargs: Any) -> OptimizerSpec:
    """RMSprop with Keras's defaults (``rho=0.9`` is torch's ``alpha``, ``epsilon`` torch's ``eps``).

    Implementation notes:
        torch adds ``epsilon`` outside the square root, ``p -= lr * g / (sqrt(v) + eps)``, where Keras
        adds it inside, ``p -= lr * g / sqrt(v + eps)`` (``v`` the moving mean of ``g**2``). torch's step
        is ``sqrt(v + eps) / (sqrt(v) + eps)`` times Keras's: ~1 while ``v >> eps = 1e-7``, ~10x on the
        first step of a gradient of ``1e-4`` (``v = 0.1 * g**2``), about ``1 / (2 * sqrt(eps))`` (~1600x)
        at most.
        ``weight_decay`` above 0 is refused, as for :func:`SGD`.
    """
    return _spec("rmsprop", learning_rate, kwargs)


def Adagrad(learning_rate: float = 1e-3, **kwargs: Any) -> OptimizerSpec:
    """Adagrad with Keras's defaults.

    ``epsilon`` is torch's ``eps``; ``weight_decay`` above 0 is refused, as for :func:`SGD`.
    """
    return _spec("adagrad", learning_rate, kwargs)


def get_optimizer(optimizer: Any) -> OptimizerSpec | torch.optim.Optimizer:
    """Resolve a name, an :class:`OptimizerSpec`, a torch optimizer class or a torch optimizer instance.

    Raises:
        ValueError: unknown name; lists the valid ones.
        TypeError: anything else.
    """
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            valid = ", ".join(sorted(OPTIMIZERS))
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected one of {valid}, or a torch optimizer"
            )
        return _spec(optimizer.lower(), None, {})
    if isinstance(optimizer, OptimizerSpec | torch.optim.Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return OptimizerSpec(optimizer, {}, optimizer.__name__.lower())
    raise TypeError(
        f"optimizer must be a name, a torch.optim.Optimizer class or instance, got {type(optimizer).__name__}"
    )


def trainable_parameters(module: nn.Module) -> Iterable[nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]


def build_optimizer(
    spec: OptimizerSpec, module: nn.Module, groups: list[dict[str, Any]] | None = None
) -> torch.optim.Optimizer:
    """Create the torch optimizer over the module's trainable parameters (or over ``groups``: torch's
    parameter groups, as a loaded file recorded them).

    Where the class has torch's fused implementation (Adam, AdamW, SGD, Adagrad) and the spec does not
    choose ``fused`` or ``foreach`` itself, the fused one is used: one kernel over every tensor instead of
    a dozen small ops per tensor, which is torch's default off CUDA. For an LSTM's few small tensors that is
    most of the optimizer's time: Adam over the 12 tensors of a layer-norm ``LSTM(1, 50)`` and its head
    takes ~0.2 ms per step fused against ~0.7 ms tensor by tensor on this project's 2-core test machine.
    The updates agree to rounding.
    """
    if groups is None:
        params = list(trainable_parameters(module))
    else:
        params = [p for group in groups for p in group["params"]]
    if not params:
        raise ValueError(
            "the model has no trainable parameters; build it (give input_shape or fit data) first"
        )
    arg: Any = params if groups is None else groups
    if _fusable(spec, params):
        try:
            return spec.cls(arg, **{**spec.kwargs, "fused": True})
        except (RuntimeError, ValueError):  # a device or option without a fused kernel: the plain loop
            pass
    return spec.cls(arg, **spec.kwargs)


def torch_adam(module: nn.Module, **kwargs: Any) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` with torch's defaults (not Keras's ``eps``), fused where it can be."""
    return build_optimizer(OptimizerSpec(torch.optim.Adam, kwargs), module)  # torch's names, no Keras aliases


def _fusable(spec: OptimizerSpec, params: list[nn.Parameter]) -> bool:
    if {"fused", "foreach", "differentiable"} & spec.kwargs.keys():
        return False
    if "fused" not in inspect.signature(spec.cls).parameters:
        return False
    return all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
