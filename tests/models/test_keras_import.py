"""load_keras: Keras 3 .keras files of real Keras models (tests/models/keras_fixtures) give Keras's outputs;
what lstmkit cannot load is a clear ValueError naming the file, the layer, the argument and the value."""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from lstmkit.models import load_keras  # noqa: E402

FIXTURES = Path(__file__).parent / "keras_fixtures"
NAMES = ["tutorial", "text", "conv_gru", "zoo", "encoder_decoder", "pools", "variants"]


def _rewrite(
    name: str,
    target: Path,
    *,
    config: Callable[[dict[str, Any]], None] | None = None,
    weights: Callable[[Any], None] | None = None,
    drop: str | None = None,
) -> Path:
    """A copy of fixture ``name`` at ``target`` with its config and/or weights edited in place."""
    with zipfile.ZipFile(FIXTURES / f"{name}.keras") as source:
        members = {member: source.read(member) for member in source.namelist()}
    if config is not None:
        parsed = json.loads(members["config.json"])
        config(parsed)
        members["config.json"] = json.dumps(parsed).encode()
    if weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "r+") as file:
            weights(file)
        members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for member, data in members.items():
            if member != drop:
                archive.writestr(member, data)
    return target


def _layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    return config["config"]["layers"]


@pytest.mark.parametrize("name", NAMES)
def test_predict_matches_keras(name: str) -> None:
    saved = np.load(FIXTURES / f"{name}.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every fixture compiles with lstmkit's optimizers, losses, metrics
        model = load_keras(FIXTURES / f"{name}.keras")
    np.testing.assert_allclose(model.predict(saved["x"], verbose=0), saved["y"], atol=1e-5, rtol=0)


def test_compile_settings_come_through() -> None:
    model = load_keras(FIXTURES / "tutorial.keras")
    assert model.compiled
    assert model.loss_name == "binary_crossentropy"
    assert [metric.name for metric in model.metrics] == ["accuracy"]
    spec = model.optimizer_spec
    assert spec.name == "adam"
    assert spec.kwargs["lr"] == pytest.approx(1e-3)
    assert spec.kwargs["betas"] == (0.9, 0.999)
    assert spec.kwargs["eps"] == 1e-7
    saved = np.load(FIXTURES / "tutorial.npz")
    model.fit(saved["x"], (saved["y"] > 0.5).astype("float32"), epochs=1, verbose=0)  # trains on


def test_global_clipnorm_becomes_compile_clipnorm() -> None:
    model = load_keras(FIXTURES / "variants.keras")
    assert model.compiled
    assert (model.clipnorm, model.clipvalue) == (1.0, None)


def test_never_compiled_model_loads_uncompiled_without_a_warning(tmp_path: Path) -> None:
    def never_compiled(config: dict[str, Any]) -> None:
        config["compile_config"] = {}  # what Keras 3.15 writes for a model it never compiled

    path = _rewrite("tutorial", tmp_path / "m.keras", config=never_compiled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = load_keras(path)
    assert not model.compiled


def test_regularizers_and_constraints_load_ignored_with_one_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_keras(FIXTURES / "penalties.keras")
    penalty_warnings = [w for w in caught if "regularizers/constraints" in str(w.message)]
    assert len(penalty_warnings) == 1
    lstm, dense = (repr(layer.name) for layer in model.layers)  # as make_fixtures.py's Keras named them
    assert str(penalty_warnings[0].message) == (
        f"'{FIXTURES / 'penalties.keras'}': lstmkit does not apply Keras regularizers/constraints: predict "
        f"matches, training will not add them; ignored: LSTM {lstm} activity_regularizer=L1(l1=0.001); "
        f"LSTM {lstm} kernel_regularizer=L2(l2=0.01); LSTM {lstm} recurrent_constraint=MaxNorm("
        f"max_value=2, axis=0); Dense {dense} kernel_constraint=NonNeg()"
    )
    saved = np.load(FIXTURES / "penalties.npz")
    np.testing.assert_allclose(model.predict(saved["x"], verbose=0), saved["y"], atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:.*regularizers/constraints:UserWarning")
def test_learning_rate_schedule_loads_uncompiled_with_a_warning() -> None:
    with pytest.warns(
        UserWarning,
        match=re.escape("optimizer learning_rate is a 'ExponentialDecay' schedule, lstmkit takes a number"),
    ):
        model = load_keras(FIXTURES / "penalties.keras")
    assert not model.compiled


def test_compile_false_loads_uncompiled() -> None:
    assert not load_keras(FIXTURES / "tutorial.keras", compile=False).compiled


def test_unknown_compile_settings_load_uncompiled_with_a_warning(tmp_path: Path) -> None:
    def custom_loss(config: dict[str, Any]) -> None:
        config["compile_config"]["loss"] = {
            "module": "builtins",
            "class_name": "function",
            "config": "my_loss",
            "registered_name": "function",
        }

    path = _rewrite("tutorial", tmp_path / "m.keras", config=custom_loss)
    with pytest.warns(UserWarning, match=r"loads uncompiled, with its weights.*custom object"):
        model = load_keras(path)
    assert not model.compiled
    saved = np.load(FIXTURES / "tutorial.npz")
    np.testing.assert_allclose(model.predict(saved["x"], verbose=0), saved["y"], atol=1e-5, rtol=0)


def test_trainable_false_comes_through(tmp_path: Path) -> None:
    def freeze(config: dict[str, Any]) -> None:
        _layers(config)[1]["config"]["trainable"] = False

    model = load_keras(_rewrite("tutorial", tmp_path / "m.keras", config=freeze), compile=False)
    assert not model.layers[0].trainable
    assert model.layers[1].trainable


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    path.write_bytes(b"\x89HDF\r\n\x1a\n not a zip")
    with pytest.raises(ValueError, match=re.escape(f"'{path}' is not a Keras 3 .keras file (not a zip")):
        load_keras(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_keras(tmp_path / "absent.keras")


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_missing_member(tmp_path: Path, member: str) -> None:
    path = _rewrite("tutorial", tmp_path / "m.keras", drop=member)
    with pytest.raises(
        ValueError, match=re.escape(f"'{path}' is not a Keras 3 .keras file: it lacks {member}")
    ):
        load_keras(path)


def test_lambda_layer_is_refused(tmp_path: Path) -> None:
    def add_lambda(config: dict[str, Any]) -> None:
        _layers(config).insert(
            2,
            {
                "module": "keras.layers",
                "class_name": "Lambda",
                "config": {
                    "name": "evil",
                    "function": {"class_name": "__lambda__", "config": {"code": "..."}},
                },
                "registered_name": None,
            },
        )

    path = _rewrite("tutorial", tmp_path / "m.keras", config=add_lambda)
    with pytest.raises(ValueError, match=re.escape(f"'{path}'")) as caught:
        load_keras(path)
    assert "is a Lambda layer (Lambda 'evil'), which holds Python code" in str(caught.value)


def test_custom_layer_is_refused(tmp_path: Path) -> None:
    def add_custom(config: dict[str, Any]) -> None:
        _layers(config)[2].update(module="my_package.layers", registered_name="my_package>Dense")

    path = _rewrite("tutorial", tmp_path / "m.keras", config=add_custom)
    with pytest.raises(ValueError, match=r"is a custom object \(Dense 'dense', module 'my_package.layers'"):
        load_keras(path)


def test_unknown_layer_class(tmp_path: Path) -> None:
    def rename(config: dict[str, Any]) -> None:
        _layers(config)[2]["class_name"] = "EinsumDense"

    path = _rewrite("tutorial", tmp_path / "m.keras", config=rename)
    with pytest.raises(
        ValueError, match="layer EinsumDense 'dense': Keras class 'EinsumDense' has no lstmkit"
    ):
        load_keras(path)


@pytest.mark.parametrize(
    ("fixture", "index", "key", "value", "message"),
    [
        (
            "tutorial",
            2,
            "activation",
            "celu",
            "layer Dense 'dense': argument activation='celu' is not supported",
        ),
        ("tutorial", 1, "activation", "relu", "layer LSTM 'lstm': LSTM supports activation='tanh' and "),
        (
            "tutorial",
            1,
            "time_major",
            True,
            "layer LSTM 'lstm': argument time_major=True is not supported by lstmkit",
        ),
        ("conv_gru", 3, "reset_after", False, "layer GRU 'gru': argument reset_after=False is not supported"),
        (
            "text",
            2,
            "merge_mode",
            None,
            "layer Bidirectional 'bidirectional': argument merge_mode=None is not supported",
        ),
    ],
    ids=[
        "dense-activation",
        "lstm-activation",
        "unknown-argument",
        "gru-reset_after-false",
        "merge_mode-none",
    ],
)
def test_unsupported_argument(
    tmp_path: Path, fixture: str, index: int, key: str, value: Any, message: str
) -> None:
    def edit(config: dict[str, Any]) -> None:
        _layers(config)[index]["config"][key] = value

    path = _rewrite(fixture, tmp_path / "m.keras", config=edit)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_keras(path)


def test_weight_of_wrong_shape(tmp_path: Path) -> None:
    def edit(file: Any) -> None:
        del file["layers/dense/vars/0"]
        file["layers/dense/vars/0"] = np.zeros((3, 1), dtype="float32")

    path = _rewrite("tutorial", tmp_path / "m.keras", weights=edit)
    with pytest.raises(
        ValueError, match=re.escape(f"'{path}' holds weights that do not fit its model")
    ) as caught:
        load_keras(path)
    assert "(8, 1)" in str(caught.value) and "(3, 1)" in str(caught.value)


def test_missing_weights(tmp_path: Path) -> None:
    def edit(file: Any) -> None:
        del file["layers/lstm/cell/vars/2"]

    path = _rewrite("tutorial", tmp_path / "m.keras", weights=edit)
    with pytest.raises(ValueError, match=r"LSTM 'lstm' expects 3 weight arrays, 'layers/lstm' holds 2"):
        load_keras(path)


def test_functional_model_is_refused(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["class_name"] = "Functional"

    path = _rewrite("tutorial", tmp_path / "m.keras", config=edit)
    with pytest.raises(
        ValueError, match="the model is a 'Functional'; load_keras reads Sequential models only"
    ):
        load_keras(path)
