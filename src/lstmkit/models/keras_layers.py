"""Keras 3 layer configs as lstmkit layers: which class names and argument values map, and where each
layer's weights lie in a ``model.weights.h5``.

Only JSON is read here: nothing named in a config is imported, and a ``Lambda`` layer or any custom
(registered) object is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lstmkit.layers import LAYERS, Layer
from lstmkit.layers.base import ACTIVATIONS
from lstmkit.layers.recurrent import Recurrent

_RECURRENT = ("dropout", "recurrent_dropout", "return_sequences", "return_state", "go_backwards", "stateful")
_POOL = ("pool_size", "strides", "padding", "data_format")
# arguments that only add to the training loss or clip weights after each step
_PENALTIES = ("_regularizer", "_constraint")


@dataclass(frozen=True)
class Rule:
    """How one Keras layer class becomes the lstmkit layer of the same class name (``LAYERS``).

    Attributes:
        passed: Keras arguments lstmkit takes under the same name.
        fixed: Keras arguments lstmkit supports at these values only (argument -> accepted values).
        ignored: Keras arguments that do not change what the loaded model computes.
        weights: where the layer's arrays lie under its group in ``model.weights.h5``, in order.
    """

    passed: tuple[str, ...]
    fixed: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    weights: tuple[str, ...] = ("vars",)


RULES: dict[str, Rule] = {
    "LSTM": Rule(
        ("units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias", *_RECURRENT),
        ignored=("unroll", "zero_output_for_mask", "use_cudnn"),
        weights=("cell/vars",),
    ),
    "GRU": Rule(
        ("units", "activation", "recurrent_activation", "use_bias", *_RECURRENT),
        fixed={"reset_after": (True,)},
        ignored=("unroll", "zero_output_for_mask", "use_cudnn"),
        weights=("cell/vars",),
    ),
    "SimpleRNN": Rule(
        ("units", "activation", "use_bias", *_RECURRENT),
        ignored=("unroll", "zero_output_for_mask"),
        weights=("cell/vars",),
    ),
    "Dense": Rule(("units", "activation", "use_bias"), ignored=("lora_alpha",)),
    "Embedding": Rule(("input_dim", "output_dim", "mask_zero"), ignored=("lora_alpha",)),
    "Conv1D": Rule(
        (
            "filters",
            "kernel_size",
            "strides",
            "padding",
            "data_format",
            "dilation_rate",
            "groups",
            "activation",
            "use_bias",
        ),
        ignored=("lora_alpha",),
    ),
    "BatchNormalization": Rule(
        ("axis", "momentum", "epsilon", "center", "scale"),
        fixed={"renorm": (False,)},
        ignored=("renorm_clipping", "renorm_momentum", "synchronized"),
    ),
    "LayerNormalization": Rule(
        ("epsilon",),
        fixed={"axis": (-1, [-1]), "center": (True,), "scale": (True,), "rms_scaling": (False,)},
    ),
    "Dropout": Rule(("rate", "noise_shape")),
    "SpatialDropout1D": Rule(("rate",)),
    "GaussianNoise": Rule(("stddev",)),
    "GaussianDropout": Rule(("rate",)),
    "Masking": Rule(("mask_value",)),
    "Activation": Rule(("activation",)),
    "Flatten": Rule(("data_format",)),
    "Reshape": Rule(("target_shape",)),
    "Permute": Rule(("dims",)),
    "RepeatVector": Rule(("n",)),
    "GlobalAveragePooling1D": Rule(("data_format", "keepdims")),
    "GlobalMaxPooling1D": Rule(("data_format", "keepdims")),
    "MaxPooling1D": Rule(_POOL),
    "AveragePooling1D": Rule(_POOL),
}
"""Keras 3 class name -> rule; ``Bidirectional`` and ``TimeDistributed`` are handled by :func:`to_layer`."""

WRAPPERS = ("Bidirectional", "TimeDistributed")
_COMMON_IGNORED = ("name", "trainable", "dtype", "build_config", "seed")


def layer_name(entry: dict[str, Any]) -> str:
    """A layer's class and name for messages: ``LSTM 'lstm_2'``."""
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return f"{entry.get('class_name')} {name!r}"


def check_builtin(entry: Any, what: str) -> None:
    """Refuse anything but a serialized Keras built-in (``Lambda`` holds code; custom objects need it).

    Raises:
        ValueError: a ``Lambda`` layer, a custom or registered object, or an entry that is not one.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ValueError(f"{what} is not a serialized Keras object: {entry!r:.200}")
    if entry["class_name"] == "Lambda":
        raise ValueError(
            f"{what} is a Lambda layer ({layer_name(entry)}), which holds Python code; lstmkit never runs "
            f"code from a model file. Rebuild the model without it"
        )
    module, registered = entry.get("module"), entry.get("registered_name")
    custom = registered not in (None, entry["class_name"])
    if custom or not (isinstance(module, str) and (module == "keras" or module.startswith("keras."))):
        raise ValueError(
            f"{what} is a custom object ({layer_name(entry)}, module {module!r}, registered as "
            f"{registered!r}); lstmkit never imports code named in a model file"
        )


def to_layer(entry: dict[str, Any]) -> Layer:
    """The lstmkit layer (unbuilt) that a Keras 3 layer entry of ``config.json`` describes.

    Raises:
        ValueError: an unsupported or custom layer, an unsupported argument or argument value; the
            message names the layer, the argument and the value.
    """
    check_builtin(entry, f"layer {layer_name(entry)}")
    what, class_name, config = layer_name(entry), entry["class_name"], entry.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"layer {what} has no config")
    if class_name in WRAPPERS:
        layer = _wrapper(class_name, config, what)
    else:
        rule = RULES.get(class_name)
        if rule is None:
            raise ValueError(
                f"layer {what}: Keras class {class_name!r} has no lstmkit counterpart; supported: "
                f"{', '.join(sorted([*RULES, *WRAPPERS]))}"
            )
        layer = _construct(LAYERS[class_name], what, _kwargs(rule, config, what))
    layer.trainable = bool(config.get("trainable", True))
    return layer


def ignored_penalties(entry: dict[str, Any]) -> list[str]:
    """The regularizers and constraints of a layer entry (and of the layers it wraps) that lstmkit does
    not apply, one ``LSTM 'lstm' kernel_regularizer=L2(l2=0.01)`` each; empty where all are null."""
    config = entry.get("config")
    if not isinstance(config, dict):
        return []
    found = [
        f"{layer_name(entry)} {key}={_penalty(value)}"
        for key, value in config.items()
        if key.endswith(_PENALTIES) and value is not None
    ]
    for key in ("layer", "backward_layer"):
        if entry.get("class_name") in WRAPPERS and isinstance(config.get(key), dict):
            found += ignored_penalties(config[key])
    return found


def weight_paths(entry: dict[str, Any]) -> list[str]:
    """Groups under the layer's own group of ``model.weights.h5`` that hold its arrays (``vars/0``, ...),
    in the order of lstmkit's ``set_weights`` (Keras's ``get_weights``)."""
    class_name, config = entry["class_name"], entry["config"]
    if class_name == "TimeDistributed":
        return [f"layer/{path}" for path in weight_paths(config["layer"])]
    if class_name == "Bidirectional":
        inner = weight_paths(config["layer"])
        return [f"forward_layer/{p}" for p in inner] + [f"backward_layer/{p}" for p in inner]
    return list(RULES[class_name].weights)


def _kwargs(rule: Rule, config: dict[str, Any], what: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"name": config.get("name")}
    for key, value in config.items():
        if key in rule.passed:
            kwargs[key] = _value(key, value, what)
        elif key in rule.fixed:
            if value not in rule.fixed[key]:
                accepted = " or ".join(map(repr, rule.fixed[key]))
                raise ValueError(
                    f"layer {what}: argument {key}={value!r} is not supported; lstmkit supports {accepted}"
                )
        elif key.endswith(_PENALTIES):
            continue  # named by ignored_penalties; they change training only, never what predict gives
        elif key in ("quantization_config", "lora_rank"):
            if value is not None:
                raise ValueError(
                    f"layer {what}: argument {key}={_short(value)} is not supported; lstmkit supports None"
                )
        elif key == "dtype":
            _check_dtype(value, what)
        elif not (key in rule.ignored or key in _COMMON_IGNORED or key.endswith("_initializer")):
            raise ValueError(f"layer {what}: argument {key}={_short(value)} is not supported by lstmkit")
    return kwargs


def _value(key: str, value: Any, what: str) -> Any:
    """A passed argument, checked for what lstmkit reads differently from JSON."""
    if key.endswith("activation") and not (
        value is None or (isinstance(value, str) and value in ACTIVATIONS)
    ):
        raise ValueError(
            f"layer {what}: argument {key}={_short(value)} is not supported; lstmkit supports "
            f"{', '.join(sorted(ACTIVATIONS))}"
        )
    if key in ("pool_size", "strides") and isinstance(value, list) and len(value) == 1:
        return value[0]  # Keras 3 writes a pool's sizes as one-element lists
    if key in ("noise_shape", "target_shape", "dims") and isinstance(value, list):
        return tuple(value)
    return value


def _check_dtype(value: Any, what: str) -> None:
    policy = value.get("config", {}).get("name") if isinstance(value, dict) else value
    if policy not in (None, "float32"):
        raise ValueError(f"layer {what}: argument dtype={policy!r} is not supported; lstmkit runs float32")


def _wrapper(class_name: str, config: dict[str, Any], what: str) -> Layer:
    known = {"layer", "merge_mode", "backward_layer"} if class_name == "Bidirectional" else {"layer"}
    for key, value in config.items():
        if key == "dtype":
            _check_dtype(value, what)
        elif key not in known and key not in _COMMON_IGNORED:
            raise ValueError(f"layer {what}: argument {key}={_short(value)} is not supported by lstmkit")
    inner_entry = config.get("layer")
    inner = to_layer(inner_entry) if isinstance(inner_entry, dict) else None
    if class_name == "TimeDistributed":
        if inner is None:
            raise ValueError(f"layer {what} wraps no layer")
        return _construct(LAYERS["TimeDistributed"], what, {"layer": inner, "name": config.get("name")})
    if not isinstance(inner, Recurrent):
        raise ValueError(f"layer {what} wraps {_short(inner_entry)}; lstmkit's wraps LSTM, GRU or SimpleRNN")
    backward = config.get("backward_layer")
    if backward is not None:  # lstmkit's backward layer is the forward one's config, go_backwards flipped
        mirror = to_layer(backward)
        want = {**inner.get_config(), "go_backwards": not inner.go_backwards}
        got = mirror.get_config()
        if {k: v for k, v in got.items() if k != "name"} != {k: v for k, v in want.items() if k != "name"}:
            raise ValueError(
                f"layer {what}: argument backward_layer={layer_name(backward)} is not supported; lstmkit's "
                f"backward layer is a copy of the forward layer with go_backwards flipped"
            )
    merge_mode = config.get("merge_mode", "concat")
    if merge_mode not in ("concat", "sum", "mul", "ave"):
        raise ValueError(
            f"layer {what}: argument merge_mode={merge_mode!r} is not supported; lstmkit supports "
            f"'concat', 'sum', 'mul' or 'ave'"
        )
    return _construct(
        LAYERS["Bidirectional"], what, {"layer": inner, "merge_mode": merge_mode, "name": config.get("name")}
    )


def _construct(cls: type[Layer], what: str, kwargs: dict[str, Any]) -> Layer:
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as err:  # lstmkit's own checks: name the Keras layer too
        raise ValueError(f"layer {what}: {err}") from err


def _penalty(value: Any) -> str:
    """A serialized regularizer or constraint for a message: ``L2(l2=0.01)``."""
    if not (isinstance(value, dict) and isinstance(value.get("config"), dict)):
        return _short(value)
    args = [
        f"{key}={arg:.6g}" if isinstance(arg, float) else f"{key}={arg!r}"
        for key, arg in value["config"].items()
        if isinstance(arg, int | float | str)
    ]
    return f"{value.get('class_name')}({', '.join(args)})"  # float32 values as Keras was given them


def _short(value: Any) -> str:
    """A config value for a message: a serialized object by its class name."""
    if isinstance(value, dict) and "class_name" in value:
        return f"<{value.get('module')}.{value['class_name']}>"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
