"""The Keras-style layer base: a ``torch.nn.Module`` built lazily from the first input's shape.

A layer knows its constructor arguments (``get_config``), creates its weights in ``build`` once the input
shape is known, and may consume and produce a boolean mask of valid time steps ``(B, T)``. Shapes are
written with ``None`` for the batch dimension, as Keras does: ``(None, T, I)``.

Weights move between Keras and lstmkit as NumPy arrays in Keras's order and layout (``get_weights`` /
``set_weights``): each layer maps its torch parameters to Keras's (``keras_weights``) and back
(``load_keras_weights``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.utils.validation import check_bool

Shape = tuple[int | None, ...]
#: ``(label, tensor)`` pairs: a weight's name and its value in Keras's layout
WeightSlots = list[tuple[str, Tensor]]

_name_counters: dict[str, itertools.count[int]] = {}


def snake_case(name: str) -> str:
    """Keras's ``naming.to_snake_case``: ``MaxPooling1D`` -> ``max_pooling1d``, ``SimpleRNN`` ->
    ``simple_rnn``, ``Conv1D`` -> ``conv1d`` (the base of a layer's name and of its weights' HDF5 group)."""
    name = re.sub(r"\W+", "", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def _auto_name(cls_name: str) -> str:
    base = snake_case(cls_name)
    counter = _name_counters.setdefault(base, itertools.count())
    index = next(counter)
    return base if index == 0 else f"{base}_{index}"


class Layer(nn.Module):
    """Base class of the Keras-face layers.

    Subclasses implement ``build(input_shape)`` (create weights), ``call(x, mask)`` (the computation) and,
    where the layer changes the shape or the mask, ``compute_mask``. ``forward(x, mask=None)`` builds the
    layer on first use, checks the input's trailing shape against the built one, and calls ``call``.

    Args:
        input_shape: the shape of one sample without the batch dimension, e.g. ``(100, 1)``; lets a
            ``Sequential`` build at ``add`` time, as in Keras.
        name: a readable name; one is generated from the class name when omitted.
    """

    #: the dtype of the zeros fed through the layer to build it (``torch.long`` for token ids)
    input_dtype: torch.dtype = torch.float32
    #: whether the layer passes an incoming mask on unchanged (Keras's ``supports_masking``)
    supports_masking: bool = False
    #: whether integer or boolean input is cast to the layer's floating dtype first, as Keras casts inputs to
    #: a layer's compute dtype (off for layers that pass ids on, such as ``Input``)
    casts_input: bool = True
    #: whether the last input axis holds features, which must have a size (``Embedding``'s is time: its
    #: ``input_shape=(None,)`` takes id sequences of any length, as Keras's ``Input(shape=(None,))``)
    last_axis_is_features: bool = True
    #: whether the size of the features axis is fixed once built (weights over it); the shape and noise
    #: layers take any size on every axis, only the rank fixed, as Keras's
    fixes_features: bool = True

    def __init__(self, *, input_shape: tuple[int | None, ...] | None = None, name: str | None = None) -> None:
        super().__init__()
        if input_shape is not None:
            # None stands for any size (e.g. (None, 8): any number of steps), but not on the feature axis
            if (
                not isinstance(input_shape, tuple | list)
                or not input_shape
                or not all(
                    d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                    for d in input_shape
                )
                or (input_shape[-1] is None and self.last_axis_is_features)
            ):
                features = ", not for the features" if self.last_axis_is_features else ""
                raise ValueError(
                    f"{type(self).__name__} input_shape must be a tuple of positive ints (without the batch "
                    f"dimension; None for any number of steps{features}), got {input_shape!r}"
                )
            input_shape = tuple(input_shape)
        self.input_shape_arg: tuple[int | None, ...] | None = input_shape
        self.name = name or _auto_name(type(self).__name__)
        self.built = False
        self.built_input_shape: Shape | None = None
        self._trainable = True

    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this layer's weights (Keras's ``layer.trainable``).

        Setting it to ``False`` freezes the weights (``requires_grad_(False)``, now and when the layer is
        built later); as in Keras it takes effect for training at the next ``compile``, and it is saved.
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = check_bool("trainable", value)
        held = set()  # parameters Keras does not have, held at zero whatever ``trainable`` says
        for layer in self.modules():  # an inner layer (Bidirectional's) follows its wrapper
            if isinstance(layer, Layer):
                layer._trainable = value
                excluded = set(layer.keras_excluded_parameters())
                held |= {id(p) for n, p in layer.named_parameters() if n in excluded}
        for param in self.parameters():
            param.requires_grad_(value and id(param) not in held)

    # -- subclass interface -------------------------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension ``None``)."""

    def call(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """The layer's computation."""
        raise NotImplementedError

    def compute_mask(self, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """The mask of this layer's output, given its input ``x`` and incoming ``mask``."""
        return mask if self.supports_masking else None

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments that rebuild this layer (JSON-serializable)."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape_arg is not None:
            config["input_shape"] = list(self.input_shape_arg)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Rebuild a layer from :meth:`get_config`'s output (JSON lists become tuples where needed)."""
        kwargs = {k: tuple(v) if k in ("input_shape", "shape") else v for k, v in config.items()}
        trainable = kwargs.pop("trainable", True)
        factory: Any = cls  # subclasses take their own keyword arguments
        layer: Layer = factory(**kwargs)
        if not trainable:
            layer.trainable = False
        return layer

    # -- machinery ----------------------------------------------------------------------------------------
    def build_from_shape(self, input_shape: Shape) -> None:
        """Build once; later calls with another trailing shape are rejected by ``forward``."""
        if not self.built:
            self.build(input_shape)
            self.built = True
            if not self.trainable:
                self.requires_grad_(False)
            self.built_input_shape = self._declared_shape() or self.generic_input_shape(input_shape)

    def generic_input_shape(self, input_shape: Shape) -> Shape:
        """The shapes this layer accepts once built: only the feature (last) axis is fixed by default, no
        axis for a layer without weights over the features (``fixes_features = False``)."""
        if not self.fixes_features:
            return (None,) * len(input_shape)
        if len(input_shape) < 2:
            return (None,)
        return (None, *(None,) * (len(input_shape) - 2), input_shape[-1])

    def forward(self, x: Tensor, mask: Tensor | None = None, **call_options: Any) -> Tensor:
        """Build on first use, check ``x`` against the built shape, then ``call(x, mask, **call_options)``
        (a layer's own keyword arguments, e.g. a recurrent layer's ``initial_state``)."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.name} expected a torch.Tensor input, got {type(x).__name__}")
        expected = self.built_input_shape if self.built else self._declared_shape()
        if expected is not None:
            self._check_shape(expected, tuple(x.shape))
        if not self.built:
            self.build_from_shape(tuple(x.shape))
        if self.casts_input and self.input_dtype.is_floating_point:
            x = self._cast_input(x)
        return self.call(x, mask, **call_options)

    def _cast_input(self, x: Tensor) -> Tensor:
        """``x`` in the layer's compute dtype, as Keras casts a layer's inputs: integers and booleans to the
        weights' floating dtype (``input_dtype`` for a layer without weights), floats of another precision
        to the weights' dtype (float64 data into a float32 layer). A layer without weights keeps the floats
        it gets, and under ``torch.autocast`` the inputs are left to autocast."""
        weights = next((p.dtype for p in self.parameters() if p.is_floating_point()), None)
        if not x.is_floating_point():
            return x.to(weights or self.input_dtype)
        if weights is not None and x.dtype != weights and not torch.is_autocast_enabled(x.device.type):
            return x.to(weights)
        return x

    def _declared_shape(self) -> Shape | None:
        return None if self.input_shape_arg is None else (None, *self.input_shape_arg)

    def _check_shape(self, expected: Shape, received: tuple[int, ...]) -> None:
        ok = len(expected) == len(received) and all(
            e is None or e == r for e, r in zip(expected[1:], received[1:], strict=True)
        )
        if not ok:
            want = "(B, " + ", ".join("?" if d is None else str(d) for d in expected[1:]) + ")"
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}) expected input of shape {want}, got "
                f"{received}; reshape the data or change the layer's input_shape"
            )

    def count_params(self) -> int:
        """Number of weights as Keras counts them: the parameters but those of
        ``keras_excluded_parameters``, and the buffers of ``keras_non_trainable_buffers``."""
        excluded = set(self.keras_excluded_parameters())
        kept = sum(p.numel() for n, p in self.named_parameters() if n not in excluded)
        return kept + sum(b.numel() for b in self.keras_state())

    def keras_excluded_parameters(self) -> list[str]:
        """Names of torch parameters that have no Keras counterpart (held at zero, never trained)."""
        return []

    def keras_non_trainable_buffers(self) -> list[str]:
        """Names of this layer's own torch buffers that Keras counts as non-trainable weights (a batch
        norm's moving statistics): in ``count_params`` and ``summary``, never in the optimizer."""
        return []

    def keras_state(self) -> list[Tensor]:
        """The buffers of ``keras_non_trainable_buffers`` that exist (built)."""
        return [b for n, b in self.named_buffers(recurse=False) if n in self.keras_non_trainable_buffers()]

    # -- weights in Keras's layout ------------------------------------------------------------------------
    def keras_weights(self) -> dict[str, Tensor]:
        """The weights in Keras's order and layout, by Keras's names, computed from the torch parameters.

        Layers with weights override this; the default is no weights.
        """
        return {}

    def load_keras_weights(self, weights: list[Tensor]) -> None:
        """Write ``weights``, laid out as :meth:`keras_weights` returns them and already checked, into the
        torch parameters (called under ``torch.no_grad``).

        The default copies each array into the tensor :meth:`keras_weights` returns for it, which must be a
        parameter or buffer or a view of one (``weight.T``, ``weight.permute(2, 1, 0)``); a layer whose
        Keras layout is computed (reordered gates) overrides this.
        """
        owned = {id(t) for t in itertools.chain(self.parameters(), self.buffers())}
        for target, value in zip(self.keras_weights().values(), weights, strict=True):
            assert id(target) in owned or target._base is not None, "a copy: override load_keras_weights"
            target.copy_(value)

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays (copies) in Keras's order and layout, e.g. Dense's
        ``[kernel (I, units), bias (units,)]``, so that they move between Keras and lstmkit.

        Raises:
            ValueError: the layer is not built yet.

        Example:
            >>> from lstmkit.layers import Dense
            >>> layer = Dense(3, input_shape=(2,)); _ = layer(torch.zeros(1, 2))
            >>> [w.shape for w in layer.get_weights()]
            [(2, 3), (3,)]
        """
        self._require_built("get_weights")
        return [to_numpy(w) for w in self.keras_weights().values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set the weights from arrays in Keras's order and layout (as :meth:`get_weights` returns them).

        Args:
            weights: one array (NumPy, tensor or nested list) per weight.

        Raises:
            ValueError: the layer is not built yet; a wrong number of arrays; an array of the wrong shape
                (the message names the layer, the index, the expected and the received shape).
            TypeError: ``weights`` is not a list, or an entry is not an array of real numbers.
        """
        self._require_built("set_weights")
        where = f"layer '{self.name}' ({type(self).__name__})"
        checked = check_weights(where, list(self.keras_weights().items()), weights)
        with torch.no_grad():
            self.load_keras_weights(checked)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"layer '{self.name}' ({type(self).__name__}) is not built yet, so it has no weights for "
                f"{what}(); call it on data once, build its model, or give it input_shape=..."
            )

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


ActivationFn = Callable[[Tensor], Tensor]


def _leaky_relu(x: Tensor) -> Tensor:
    """Keras 3's ``leaky_relu``: slope 0.2 below zero (torch's default is 0.01)."""
    return nn.functional.leaky_relu(x, negative_slope=0.2)


#: Keras 3's activations by name, with Keras's defaults (``keras/src/activations/activations.py``)
ACTIVATIONS: dict[str, ActivationFn] = {
    "linear": lambda x: x,
    "relu": torch.relu,
    "relu6": nn.functional.relu6,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": nn.functional.hardsigmoid,  # relu6(x + 3) / 6, as Keras 3 (Keras 2 used 0.2 x + 0.5)
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    "elu": nn.functional.elu,
    "selu": nn.functional.selu,
    "gelu": nn.functional.gelu,
    "softplus": nn.functional.softplus,
    "softsign": nn.functional.softsign,
    "exponential": torch.exp,
    "swish": nn.functional.silu,
    "silu": nn.functional.silu,
    "hard_silu": nn.functional.hardswish,
    "hard_swish": nn.functional.hardswish,
    "mish": nn.functional.mish,
    "leaky_relu": _leaky_relu,
}


def get_activation(name: str | ActivationFn | None) -> ActivationFn:
    """Look up a Keras activation by name (``None`` means linear); a callable is used as it is (as Keras).

    Raises:
        ValueError: unknown name; the message lists the valid ones.
    """
    if name is None:
        return ACTIVATIONS["linear"]
    if callable(name):
        return name
    if not isinstance(name, str) or name not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; expected None or one of {valid}, or a callable")
    return ACTIVATIONS[name]


def activation_config(activation: str | ActivationFn | None, owner: str) -> str | None:
    """The name under which ``activation`` is saved: itself for a name or ``None``, the Keras name of one of
    the functions in :data:`ACTIVATIONS` (``torch.relu`` is ``'relu'``).

    Raises:
        TypeError: another callable (a model file stores names, never code); ``owner`` names the layer.
    """
    if activation is None or isinstance(activation, str):
        return activation
    name = next((key for key, fn in ACTIVATIONS.items() if fn is activation), None)
    if name is None:
        label = getattr(activation, "__qualname__", type(activation).__name__)
        raise TypeError(
            f"{owner} has the callable activation {label}, which cannot be saved to a model file (it "
            f"stores names, never code); pass one of {', '.join(sorted(ACTIVATIONS))} by name, or keep "
            f"only the weights with save_weights() or get_weights()"
        )
    return name


# -- weights in Keras's layout, for a layer or a whole module tree -----------------------------------------
def to_numpy(weight: Tensor) -> np.ndarray:
    """A NumPy copy of ``weight`` (bfloat16, which NumPy lacks, as float32)."""
    weight = weight.detach().cpu()
    return (weight.float() if weight.dtype == torch.bfloat16 else weight).numpy().copy()


def check_weights(where: str, slots: WeightSlots, values: Sequence[Any]) -> list[Tensor]:
    """``values`` as tensors with the shape, dtype and device of each slot's tensor, all checked first.

    Args:
        where: who is being set, for messages: ``"layer 'lstm' (LSTM)"``.
        slots: ``(label, current value)`` per expected weight.
        values: the arrays given to ``set_weights``.

    Raises:
        TypeError: ``values`` is not a list or tuple, or an entry is not an array of real numbers.
        ValueError: a wrong number of arrays, an array of the wrong shape, NaN/inf values, or values too
            large for the slot's dtype (``1e300`` into float32).
    """
    if not isinstance(values, list | tuple):
        raise TypeError(f"{where} set_weights expects a list of arrays, got {type(values).__name__}")
    if len(values) != len(slots):
        names = ", ".join(label for label, _ in slots) or "none"
        raise ValueError(f"{where} set_weights expects {len(slots)} arrays ({names}), got {len(values)}")
    checked = []
    for index, ((label, target), value) in enumerate(zip(slots, values, strict=True)):
        try:
            tensor = value.detach() if isinstance(value, Tensor) else torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as err:  # strings, Python objects, ragged lists
            raise TypeError(
                f"{where} set_weights: weight {index} ({label}) must be an array of real numbers, got "
                f"{type(value).__name__}"
            ) from err
        if tensor.is_complex():
            raise TypeError(
                f"{where} set_weights: weight {index} ({label}) must be real-valued, got dtype {tensor.dtype}"
            )
        expected, received = tuple(target.shape), tuple(tensor.shape)
        if received != expected:
            hint = "; kernels are (inputs, outputs), as in Keras: transpose a torch weight"
            raise ValueError(
                f"{where} set_weights: weight {index} ({label}) expected shape {expected}, got {received}"
                + (hint if len(expected) == 2 and received == expected[::-1] else "")
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(
                f"{where} set_weights: weight {index} ({label}) holds "
                f"{int((~torch.isfinite(tensor)).sum())} NaN or infinite value(s); weights must be finite"
            )
        cast = tensor.to(device=target.device, dtype=target.dtype)
        overflowed = int((~torch.isfinite(cast)).sum()) if cast.is_floating_point() else 0
        if overflowed:  # finite as given, infinite in the slot's dtype
            largest = float(tensor.abs().max())
            dtype = str(target.dtype).removeprefix("torch.")
            raise ValueError(
                f"{where} set_weights: weight {index} ({label}) holds {overflowed} value(s) that do not fit "
                f"{dtype} (the largest magnitude is {largest:.3g}, {dtype} holds up to "
                f"{torch.finfo(target.dtype).max:.3g}); scale the weights down, or convert the layer first "
                f"(layer.double())"
            )
        checked.append(cast)
    return checked


def _weight_owners(
    module: nn.Module, prefix: str, seen: set[int]
) -> Iterator[tuple[Layer | Tensor, WeightSlots]]:
    """Each Keras-face layer (its inner modules not visited) and each parameter of any other module, in
    registration order, with its slots; a module or parameter shared by several parents comes once."""
    if id(module) in seen:
        return
    seen.add(id(module))
    if isinstance(module, Layer):
        yield module, [(f"{module.name}/{key}", w) for key, w in module.keras_weights().items()]
        return
    for name, param in module.named_parameters(prefix=prefix, recurse=False):
        if id(param) not in seen:
            seen.add(id(param))
            yield param, [(name, param)]
    for name, child in module.named_children():
        yield from _weight_owners(child, f"{prefix}.{name}" if prefix else name, seen)


def module_weights(module: nn.Module) -> WeightSlots:
    """Every weight of a module tree, as a model's ``get_weights`` lists them: each Keras-face layer's in
    Keras's order and layout (labelled ``<layer name>/<weight>``), the parameters of any other module in
    torch's layout (labelled as ``named_parameters`` does), in registration order."""
    return [slot for _, slots in _weight_owners(module, "", set()) for slot in slots]


def set_module_weights(module: nn.Module, values: Sequence[Any], where: str) -> None:
    """Set every weight of a module tree from arrays ordered and laid out as :func:`module_weights` lists
    them; nothing is written unless every array fits (see :func:`check_weights`)."""
    owners = list(_weight_owners(module, "", set()))
    checked = check_weights(where, [slot for _, slots in owners for slot in slots], values)
    start = 0
    with torch.no_grad():
        for owner, slots in owners:
            part = checked[start : start + len(slots)]
            if isinstance(owner, Layer):
                owner.load_keras_weights(part)
            else:
                owner.copy_(part[0])
            start += len(slots)
