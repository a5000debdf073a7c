"""save/load_model: one safetensors file with config, weights and optimizer state; clear errors."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.layers import GRU, LSTM, Dense, Dropout, LayerNormalization, SimpleRNN
from lstmkit.models import Model, Sequential, load_model
from lstmkit.models.losses import BinaryCrossentropy, CategoricalCrossentropy, Huber
from lstmkit.utils import set_seed
from lstmkit.utils.serialization import load_bundle, save_bundle


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5, 2)).astype("float32")
    return x, x[:, -1, :1] * 2


def _saved_after_training(folder: Path, loss: str, hidden: int) -> tuple[Sequential, dict, dict]:
    """A model trained one epoch on :func:`_data` and saved: ``(model, tensors, config)`` of its file, to
    write back altered."""
    x, y = _data()
    model = Sequential([LSTM(hidden, input_shape=(5, 2)), Dense(1)])
    model.compile("adam", loss)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(folder / "saved.lstmkit")
    tensors, config = load_bundle(folder / "saved.lstmkit")
    return model, tensors, config


def assert_resumes_identically(model: Model, loaded: Model, x: np.ndarray, y: np.ndarray) -> None:
    """One more epoch from the same seed gives identical weights: the optimizer state came along."""
    set_seed(5)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    set_seed(5)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for name, tensor in model.module.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[name], tensor, rtol=0, atol=0)


def test_round_trip_predictions_and_resumed_training_match(tmp_path: Path) -> None:
    set_seed(0)
    x, y = _data()
    model = Sequential([LSTM(4, input_shape=(5, 2), return_sequences=True), GRU(3), Dropout(0.1), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"], clipnorm=1.0)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.lstmkit"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert (
        loaded.loss_name == "mse" and [m.name for m in loaded.metrics] == ["mae"] and loaded.clipnorm == 1.0
    )
    assert isinstance(loaded.optimizer, torch.optim.Adam)
    assert_resumes_identically(model, loaded, x, y)  # the optimizer state came along


def test_saved_file_is_plain_safetensors_with_kind(tmp_path: Path) -> None:
    model = Sequential([SimpleRNN(2, input_shape=(3, 1)), LayerNormalization(), Dense(1)])
    model.save(tmp_path / "m.lstmkit")
    tensors, config = load_bundle(tmp_path / "m.lstmkit")
    assert config["kind"] == "keras_model" and config["class"] == "Sequential"
    assert "module.layers.0.rnn.weight_ih_l0" in tensors
    assert "compile" not in config  # never compiled: loads uncompiled
    assert not load_model(tmp_path / "m.lstmkit").compiled


def test_custom_module_needs_an_instance_to_load_into(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    model = Model(net)
    model.compile(optimizer="sgd", loss="mae")
    model.fit(np.ones((4, 3)), np.zeros((4, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "c.lstmkit")
    with pytest.raises(ValueError, match=r"never imports code .* load_model\(path, module=MyNet\(\)\)"):
        load_model(tmp_path / "c.lstmkit")
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    loaded = load_model(tmp_path / "c.lstmkit", module=fresh)
    np.testing.assert_array_equal(loaded.predict(np.ones((2, 3))), model.predict(np.ones((2, 3))))
    with pytest.raises(ValueError, match="does not match the model's weights"):
        load_model(tmp_path / "c.lstmkit", module=torch.nn.Linear(3, 1))


class _LazyNet(torch.nn.Module):
    """A custom module with lazily built lstmkit layers (weights appear at the first forward pass)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm, self.head = LSTM(4), Dense(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x))


def test_custom_module_with_lazy_layers_is_built_when_loaded(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(8, 5, 2)).astype("float32")
    model = Model(_LazyNet())
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x[:, -1, :1], epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "lazy.lstmkit")
    loaded = load_model(tmp_path / "lazy.lstmkit", module=_LazyNet())  # the documented recipe
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    loaded.fit(x, x[:, -1, :1], epochs=1, batch_size=4, verbose=0)  # with the saved optimizer state


def test_custom_module_file_without_input_shape_says_to_run_a_forward_pass(tmp_path: Path) -> None:
    model = Model(_LazyNet())
    model.build((None, 5, 2))
    model_path = tmp_path / "old.lstmkit"
    model.save(model_path)
    tensors, config = load_bundle(model_path)
    del config["input_shape"], config["input_dtype"]  # as files written before input shapes were saved
    save_bundle(model_path, tensors, config)
    with pytest.raises(ValueError, match=r"must be built .* run one forward pass first, module\(x\)"):
        load_model(model_path, module=_LazyNet())
    fresh = _LazyNet()
    fresh(torch.zeros(1, 5, 2))
    load_model(model_path, module=fresh)


def test_corrupt_truncated_and_foreign_files(tmp_path: Path) -> None:
    model = Sequential([Dense(1, input_shape=(2,))])
    model.save(tmp_path / "m.lstmkit")
    data = (tmp_path / "m.lstmkit").read_bytes()
    (tmp_path / "truncated.lstmkit").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_model(tmp_path / "truncated.lstmkit")
    (tmp_path / "foreign.bin").write_bytes(b"PK\x03\x04 this is a zip file, not a model")
    with pytest.raises(ValueError, match="not an lstmkit model file"):
        load_model(tmp_path / "foreign.bin")
    with pytest.raises(FileNotFoundError, match="no lstmkit model file"):
        load_model(tmp_path / "missing.lstmkit")
    from lstmkit.utils.serialization import save_bundle

    save_bundle(tmp_path / "other.lstmkit", {"w": torch.zeros(1)}, {"kind": "forecaster"})
    with pytest.raises(ValueError, match="of kind 'forecaster', not a Keras-style model"):
        load_model(tmp_path / "other.lstmkit")


def test_save_before_build_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not built yet"):
        Sequential([LSTM(2)]).save(tmp_path / "m.lstmkit")


def _as_lstmkit_0_1(
    tensors: dict[str, torch.Tensor], config: dict, order: list[str]
) -> tuple[dict[str, torch.Tensor], dict]:
    """A file's content in lstmkit 0.1's layout: each ``ln_affine`` (2, 9H) as six vectors, interleaved
    (ln_weight_ih, ln_bias_ih, ln_weight_hh, ln_bias_hh, ln_weight_c, ln_bias_c), the optimizer's
    per-parameter entries likewise, every later index shifted by five. ``order``: the trainable
    parameters' names in module order, which the optimizer's indices follow (a file's keys come back
    sorted)."""
    parts = [f"ln_{kind}_{part}" for part in ("ih", "hh", "c") for kind in ("weight", "bias")]

    def split(value: torch.Tensor) -> list[torch.Tensor]:
        hidden = value.shape[-1] // 9
        spans = [(0, 4 * hidden), (4 * hidden, 8 * hidden), (8 * hidden, 9 * hidden)]
        return [value[row, a:b].clone() for a, b in spans for row in (0, 1)]

    out = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    for key in [k for k in out if ".ln_affine" in k]:
        value = out.pop(key)
        for part, piece in zip(parts, split(value), strict=True):
            out[key.replace("ln_affine", part)] = piece
    old_index, mapping = 0, {}
    for index, name in enumerate(order):
        width = 6 if ".ln_affine" in name else 1
        mapping[index] = list(range(old_index, old_index + width))
        old_index += width
    opt = config["optimizer"]
    scalars = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, field = key.split(".", 2)
            targets = mapping[int(index)]
            pieces = (
                split(value) if len(targets) == 6 and value.dim() > 0 else [value.clone() for _ in targets]
            )
            for target, piece in zip(targets, pieces, strict=True):
                out[f"optimizer.{target}.{field}"] = piece
    for index, entry in opt["scalars"].items():
        for target in mapping[int(index)]:
            scalars[str(target)] = entry
    group = {**opt["param_groups"][0], "params": list(range(old_index))}
    return out, {**config, "optimizer": {**opt, "param_groups": [group], "scalars": scalars}}


def test_a_layer_norm_model_saved_by_lstmkit_0_1_loads_with_its_optimizer_state(tmp_path: Path) -> None:
    from lstmkit.utils.serialization import save_bundle

    set_seed(0)
    x, y = _data()
    model = Sequential([LSTM(4, input_shape=(5, 2), layer_norm=True, return_sequences=True),
                        LSTM(3, layer_norm=True, peephole=True), Dense(1)])  # fmt: skip
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path, old_path = tmp_path / "new.lstmkit", tmp_path / "old.lstmkit"
    model.save(path)
    tensors, config = load_bundle(path)
    order = [name for name, p in model.module.named_parameters() if p.requires_grad]
    old_tensors, old_config = _as_lstmkit_0_1(tensors, config, order)
    assert any(".ln_weight_c" in k for k in old_tensors) and not any("ln_affine" in k for k in old_tensors)
    save_bundle(old_path, old_tensors, old_config)
    loaded = load_model(old_path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert_resumes_identically(model, loaded, x, y)  # the moments were regrouped as the weights were


def test_a_safetensors_file_with_a_config_lstmkit_did_not_write_is_a_value_error(tmp_path: Path) -> None:
    import json

    from safetensors.torch import save_file

    from lstmkit.utils.serialization import save_bundle

    model = Sequential([LSTM(2, input_shape=(3, 1)), Dense(1)])
    model.compile("adam", "mse")
    path = tmp_path / "m.lstmkit"
    model.save(path)
    tensors, config = load_bundle(path)
    del config["architecture"]
    save_bundle(tmp_path / "no_architecture.lstmkit", tensors, config)
    with pytest.raises(
        ValueError, match=r"holds a model config lstmkit cannot read \(KeyError: 'architecture'\)"
    ):
        load_model(tmp_path / "no_architecture.lstmkit")
    config = load_bundle(path)[1]
    config["architecture"]["layers"][0]["config"]["bogus"] = 1
    save_bundle(tmp_path / "unknown_argument.lstmkit", tensors, config)
    with pytest.raises(ValueError, match=r"cannot read \(TypeError: .*bogus"):
        load_model(tmp_path / "unknown_argument.lstmkit")
    header = {"__metadata__": "a string"}
    save_file({"w": torch.zeros(1)}, str(tmp_path / "plain.safetensors"))
    raw = (tmp_path / "plain.safetensors").read_bytes()
    length = int.from_bytes(raw[:8], "little")
    body = json.loads(raw[8 : 8 + length]) | header
    text = json.dumps(body).encode()
    (tmp_path / "string_metadata.lstmkit").write_bytes(
        len(text).to_bytes(8, "little") + text + raw[8 + length :]
    )
    with pytest.raises(ValueError, match="is a safetensors file but not an lstmkit model"):
        load_model(tmp_path / "string_metadata.lstmkit")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("huber(delta=-1)", "delta must be a finite number > 0"),
        ("mse(delta=2)", "mse takes no parameter"),
        ("binary_crossentropy(axis=-1)", "takes only label_smoothing, got axis"),  # a later lstmkit's
    ],
)
def test_a_loss_spec_the_file_cannot_rebuild_loads_uncompiled(spec: str, reason: str, tmp_path: Path) -> None:
    x, _ = _data()
    model, tensors, config = _saved_after_training(tmp_path, "huber", hidden=3)
    config["compile"]["loss"] = spec
    save_bundle(tmp_path / "damaged.lstmkit", tensors, config)
    expected = rf"loads uncompiled.*its loss '{re.escape(spec)}' cannot be rebuilt.*{reason}"
    with pytest.warns(UserWarning, match=expected):
        loaded = load_model(tmp_path / "damaged.lstmkit")
    assert not loaded.compiled
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_frozen_layers_stay_frozen_in_training_and_through_a_file(tmp_path: Path) -> None:
    x, y = _data()
    keras_way = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    keras_way.layers[0].trainable = False  # Keras's idiom, set before compile
    torch_way = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    torch_way.layers[0].requires_grad_(False)
    for model in (keras_way, torch_way):
        frozen = [w.copy() for w in model.layers[0].get_weights()]
        head = [w.copy() for w in model.layers[1].get_weights()]
        model.compile("adam", "mse")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        assert all(np.array_equal(a, b) for a, b in zip(frozen, model.layers[0].get_weights(), strict=True))
        assert not all(np.array_equal(a, b) for a, b in zip(head, model.layers[1].get_weights(), strict=True))
        model.save(tmp_path / "frozen.lstmkit")
        loaded = load_model(tmp_path / "frozen.lstmkit")
        assert not any(p.requires_grad for p in loaded.layers[0].parameters())
        assert_resumes_identically(model, loaded, x, y)
    assert keras_way.get_config()["layers"][0]["config"]["trainable"] is False
    keras_way.layers[0].trainable = True  # back: but the bias Keras has no counterpart for stays held
    trainable = {n for n, p in keras_way.layers[0].named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in keras_way.layers[0].named_parameters()} - {"rnn.bias_hh_l0"}
    with pytest.raises(TypeError, match="trainable must be True or False"):
        keras_way.layers[0].trainable = "no"  # type: ignore[assignment]


def test_optimizer_parameter_groups_come_back_by_name(tmp_path: Path) -> None:
    x, y = _data()
    model = Sequential([LSTM(4, input_shape=(5, 2)), Dense(1)])
    lstm, dense = model.layers
    groups = [
        {"params": [p for p in lstm.parameters() if p.requires_grad], "lr": 1e-3},
        {"params": list(dense.parameters()), "lr": 1e-2},
    ]
    model.compile(torch.optim.Adam(groups), "mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "groups.lstmkit")
    loaded = load_model(tmp_path / "groups.lstmkit")
    assert loaded.optimizer is not None
    assert [g["lr"] for g in loaded.optimizer.param_groups] == [1e-3, 1e-2]
    assert_resumes_identically(model, loaded, x, y)


def test_what_a_file_cannot_rebuild_loads_uncompiled_with_a_warning(tmp_path: Path) -> None:
    from lstmkit.models.metrics import MeanAbsoluteError

    class MyAdam(torch.optim.Adam):
        pass

    class Custom(MeanAbsoluteError):
        name = "custom_mae"

    class SameName(MeanAbsoluteError):  # a metric of the user's that shares a name of lstmkit's
        name = "hinge"

    def poisson(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:  # lstmkit has one too
        return (torch.exp(y_pred) - y_true * y_pred).mean(dim=-1)

    x, y = _data()
    cases = {
        "custom loss": ("adam", lambda p, t: ((p - t) ** 2).mean(dim=-1), []),
        r"custom loss \('poisson'\)": ("adam", poisson, []),
        "custom metrics": ("adam", "mse", [Custom()]),
        r"custom metrics \('hinge'\)": ("adam", "mse", [SameName()]),
        "not a torch.optim": (MyAdam, "mse", []),
    }
    for reason, (optimizer, loss, metrics) in cases.items():
        model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(1)])
        model.compile(optimizer, loss, metrics)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        path = tmp_path / "model.lstmkit"
        model.save(path)
        with pytest.warns(UserWarning, match=f"loads uncompiled.*{reason}"):
            loaded = load_model(path)
        assert not loaded.compiled
        np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert not load_model(path, compile=False).compiled


def test_a_custom_module_with_tied_weights_saves_and_loads(tmp_path: Path) -> None:
    class Tied(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = torch.nn.Linear(3, 3, bias=False)
            self.b = torch.nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.tanh(self.a(x)))

    model = Model(Tied())
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 3)), epochs=1, verbose=0)
    model.save(tmp_path / "tied.lstmkit")
    loaded = load_model(tmp_path / "tied.lstmkit", module=Tied())
    assert loaded.module.a.weight is loaded.module.b.weight
    torch.testing.assert_close(loaded.module.a.weight, model.module.a.weight, rtol=0, atol=0)
    assert loaded.optimizer is not None and len(loaded.optimizer.param_groups[0]["params"]) == 1


def test_a_model_saved_compiled_before_training_keeps_its_optimizer_choice(tmp_path: Path) -> None:
    from lstmkit.models import optimizers

    x, y = _data()
    choices = (("rmsprop", torch.optim.RMSprop, 1e-3), (optimizers.Adam(0.01), torch.optim.Adam, 0.01))
    for choice, cls, lr in choices:
        model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(1)])
        model.compile(choice, "mse")
        model.save(tmp_path / "fresh.lstmkit")
        loaded = load_model(tmp_path / "fresh.lstmkit")
        loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
        assert isinstance(loaded.optimizer, cls) and loaded.optimizer.param_groups[0]["lr"] == lr
        if cls is torch.optim.RMSprop:  # Keras's defaults, not torch's (alpha 0.99, eps 1e-8)
            assert loaded.optimizer.param_groups[0]["alpha"] == 0.9
            assert loaded.optimizer.param_groups[0]["eps"] == 1e-7


def test_a_file_of_the_previous_layout_loads_and_resumes(tmp_path: Path) -> None:
    x, y = _data()
    model, tensors, config = _saved_after_training(tmp_path, "mse", hidden=4)
    del config["optimizer"]["param_names"]  # written before lstmkit named the optimizer's parameters
    save_bundle(tmp_path / "old.lstmkit", tensors, config)
    assert_resumes_identically(model, load_model(tmp_path / "old.lstmkit"), x, y)


def test_an_optimizer_over_tensors_outside_the_model_is_saved_by_position(tmp_path: Path) -> None:
    x, y = _data()
    model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(1)])
    scale = torch.nn.Parameter(torch.ones(()))  # e.g. a learnable weight of a custom loss
    model.compile(torch.optim.Adam([*model.parameters(), scale]), lambda p, t: scale * ((p - t) ** 2).mean())
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    with pytest.warns(UserWarning, match="not the model's parameters.*saved by position"):
        model.save(tmp_path / "extra.lstmkit")
    _, config = load_bundle(tmp_path / "extra.lstmkit")
    assert "param_names" not in config["optimizer"]


def test_an_optimizer_given_keras_argument_names_round_trips_before_and_after_training(
    tmp_path: Path,
) -> None:
    from lstmkit.models import optimizers

    x, y = _data()
    model = Sequential([LSTM(3, input_shape=(5, 2)), Dense(1)])
    model.compile(optimizers.Adam(0.01, beta_1=0.8, epsilon=1e-6, weight_decay=0.01), "mse")
    expected = {"lr": 0.01, "betas": (0.8, 0.999), "eps": 1e-6, "weight_decay": 0.01}
    for trained in (False, True):
        model.save(tmp_path / "adam.lstmkit")
        loaded = load_model(tmp_path / "adam.lstmkit")
        if trained:
            assert_resumes_identically(model, loaded, x, y)
        else:
            loaded.fit(x, y, epochs=1, batch_size=8, verbose=0)
            model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        assert isinstance(loaded.optimizer, torch.optim.AdamW)  # Keras's decoupled weight decay
        group = loaded.optimizer.param_groups[0]
        assert {k: group[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("loss", "units", "activation"),
    [
        (BinaryCrossentropy(label_smoothing=0.2), 1, "sigmoid"),
        (BinaryCrossentropy(from_logits=True, label_smoothing=0.2), 1, None),
        (CategoricalCrossentropy(label_smoothing=0.1), 3, "softmax"),
        (CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), 3, None),
        (Huber(delta=0.5), 1, None),
    ],
    ids=["binary", "binary-logits", "categorical", "categorical-logits", "huber-delta"],
)
def test_a_loss_with_a_parameter_round_trips_and_compiles_from_the_file(
    tmp_path: Path, loss: str, units: int, activation: str | None
) -> None:
    set_seed(0)
    x = np.random.default_rng(2).normal(size=(12, 4, 2)).astype("float32")
    y = np.eye(units)[np.arange(12) % units] if units > 1 else (x[:, -1, :1] > 0).astype("float32")
    model = Sequential([LSTM(3, input_shape=(4, 2)), Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    model.save(tmp_path / "m.lstmkit")
    assert load_bundle(tmp_path / "m.lstmkit")[1]["compile"]["loss"] == loss  # saved as its spec, e.g.
    loaded = load_model(tmp_path / "m.lstmkit")  # 'binary_crossentropy(label_smoothing=0.2)'
    assert loaded.loss_name == loss and loaded.metric_inputs is model.metric_inputs
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)
    unsmoothed = Sequential([LSTM(3, input_shape=(4, 2)), Dense(units, activation=activation)])
    unsmoothed.compile(loss=loss.split("(")[0], metrics=["accuracy"])
    unsmoothed.set_weights(model.get_weights())
    assert unsmoothed.evaluate(x, y, verbose=0)[0] != pytest.approx(loaded.evaluate(x, y, verbose=0)[0])
    assert_resumes_identically(model, loaded, x, y)


_WEIGHT_HH = "parameter 1 (layers.0.rnn.weight_hh_l0)"  # (16, 4) in the LSTM(4) of _saved_after_training


@pytest.mark.parametrize(
    ("tensors_edit", "scalars", "reason"),
    [
        pytest.param(
            {"optimizer.1.exp_avg": torch.zeros(3)},
            {},
            f"the 'exp_avg' state of {_WEIGHT_HH} has shape (3,), the parameter (16, 4)",
            id="moment-of-another-shape",
        ),
        pytest.param(
            {"optimizer.1.exp_avg_sq": torch.zeros(16, 4, dtype=torch.int64)},
            {},
            f"the 'exp_avg_sq' state of {_WEIGHT_HH} holds torch.int64; expected a floating dtype, as the "
            f"parameter's torch.float32",
            id="moment-of-integers",
        ),
        pytest.param(
            {},
            {"1": {"exp_avg": 5}},
            f"the 'exp_avg' state of {_WEIGHT_HH} must be a tensor of shape (16, 4), got 5",
            id="moment-as-a-number",
        ),
        pytest.param(
            {"optimizer.1.step": torch.zeros(3)},
            {},
            f"the 'step' state of {_WEIGHT_HH} must be one real number, got a tensor of torch.float32 and "
            f"shape (3,)",
            id="step-of-three-numbers",
        ),
        pytest.param(
            {"optimizer.1.step": torch.tensor(-1.0)},
            {},
            f"the 'step' state of {_WEIGHT_HH} must be a finite number >= 0, got -1.0",
            id="negative-step",
        ),
        pytest.param(
            {"optimizer.99.exp_avg": torch.zeros(3)},
            {},
            "it holds a state of parameter 99, which none of its groups lists",
            id="state-of-no-parameter",
        ),
        pytest.param(
            {"optimizer.1": torch.zeros(1)},
            {},
            "its tensor 'optimizer.1' is not named optimizer.<parameter index>.<state key>",
            id="misnamed-tensor",
        ),
    ],
)
def test_an_optimizer_state_that_does_not_fit_its_parameters_never_reaches_the_optimizer(
    tensors_edit: dict[str, torch.Tensor], scalars: dict, reason: str, tmp_path: Path
) -> None:
    """torch's fused Adam steps every moment as if it had its parameter's shape: a smaller one in a file
    was written past its end at fit (a segmentation fault). It is refused at load, naming the file, the
    parameter, the state and both shapes, and a live optimizer is left as it was."""
    model, tensors, config = _saved_after_training(tmp_path, "mse", hidden=4)
    assert model.optimizer is not None and model.optimizer.defaults["fused"]
    tensors = {**tensors, **tensors_edit}
    config["optimizer"]["scalars"] = scalars
    path = tmp_path / "tampered.lstmkit"
    save_bundle(path, tensors, config)
    message = f"'{path}' holds an optimizer state that does not fit the model: {reason}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model(path)
    from lstmkit.models.saving import restore_into  # as BackupAndRestore resumes a run

    before = model.optimizer.state_dict()["state"]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        restore_into(model, tensors, config, str(path))
    after = model.optimizer.state_dict()["state"]
    assert before.keys() == after.keys()
    for index, entries in before.items():
        for key, value in entries.items():
            torch.testing.assert_close(after[index][key], value, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("keys", "value", "reason"),
    [
        pytest.param(
            ("frozen",), 5, ": 'frozen' must be a list of parameter names, got int 5", id="frozen-int"
        ),
        pytest.param(
            ("frozen",),
            "module",
            ": 'frozen' must be a list of parameter names, got str 'module'",
            id="frozen-string",
        ),
        pytest.param(
            ("optimizer", "scalars"),
            [1],
            ": the optimizer's 'scalars' must map parameter indices to objects, got list [1]",
            id="scalars-list",
        ),
        pytest.param(
            ("optimizer", "param_groups"),
            [],
            ": the optimizer's 'param_groups' must be a non-empty list of objects with 'params' indices, got "
            "list []",
            id="no-parameter-groups",
        ),
        pytest.param(
            ("optimizer", "param_groups", 0, "lr"),
            "fast",
            " (TypeError: Adam lr must be a number, got str 'fast')",
            id="lr-string",
        ),
        pytest.param(
            ("optimizer", "param_groups", 0, "maximize"),
            "yes",
            " (TypeError: Adam maximize must be True or False, got str 'yes')",
            id="flag-string",
        ),
        pytest.param(
            ("architecture", "layers", 0, "config", "units"),
            -4,
            " (ValueError: LSTM units must be >= 1, got -4)",
            id="units-negative",
        ),
        pytest.param(
            ("compile", "clipnorm"),
            "x",
            " (ValueError: clipnorm must be a positive number, got 'x')",
            id="clipnorm",
        ),
    ],
)
def test_a_config_value_of_the_wrong_kind_is_a_value_error_naming_the_file(
    keys: tuple, value: object, reason: str, tmp_path: Path
) -> None:
    _, tensors, config = _saved_after_training(tmp_path, "mse", hidden=4)
    *parents, last = keys
    entry = config
    for key in parents:
        entry = entry[key]
    entry[last] = value
    path = tmp_path / "edited.lstmkit"
    save_bundle(path, tensors, config)
    message = f"'{path}' holds a model config lstmkit cannot read{reason}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$") as caught:
        load_model(path)
    if reason.startswith(" ("):  # another error of reading the config, chained
        assert caught.value.__cause__ is not None
