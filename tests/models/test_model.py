"""Model/Sequential: compile, fit, evaluate, predict, *_on_batch, model(array), summary, bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lstmkit.layers import LSTM, Dense, Dropout
from lstmkit.models import Model, Sequential, load_model, optimizers
from lstmkit.models.callbacks import LambdaCallback
from lstmkit.utils import set_seed


def _regression(n: int = 64, steps: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, steps, 1)).astype("float32")
    return x, x[:, -2:, 0].sum(axis=1, keepdims=True)


def _lstm_model(steps: int = 6) -> Sequential:
    model = Sequential()
    model.add(LSTM(8, input_shape=(steps, 1)))
    model.add(Dense(1))
    return model


def test_origin_classifier_example_runs_and_learns() -> None:
    set_seed(0)
    x, target = _regression(96)
    y = (target[:, 0] > 0).astype("float32")
    model = Sequential()
    model.add(LSTM(16, input_shape=(6, 1)))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.75  # chance is about 0.5
    _, accuracy = model.evaluate(x, y)
    predicted = model.predict(x)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (96, 1)
    assert accuracy == pytest.approx(float(((predicted[:, 0] > 0.5) == (y > 0.5)).mean()))


def test_the_origin_classifier_learns_under_cpu_bfloat16_autocast(monkeypatch: pytest.MonkeyPatch) -> None:
    # amp=True on CPU: bfloat16 autocast; the LSTM multiplies in bfloat16 where the CPU has AVX512-BF16
    from lstmkit.ops import native
    from lstmkit.ops.native_bf16 import bf16_available

    x, target = _regression(96)
    y = (target[:, 0] > 0).astype("float32")
    histories, calls = [], []
    if native.KERNEL is not None:
        real = native.native_module()
        spy = type("Spy", (), {"__getattr__": lambda _, name: calls.append(name) or getattr(real, name)})()
        monkeypatch.setattr(native, "_native", spy)
    before = torch.get_autocast_dtype("cpu")
    torch.set_autocast_dtype("cpu", torch.float16)  # a user's default: amp=True is bfloat16 all the same
    try:
        for amp in (False, True):
            set_seed(0)
            model = Sequential([LSTM(16, input_shape=(6, 1)), Dense(1, activation="sigmoid")])
            model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], amp=amp)
            assert model.amp is amp and not model.scaler.is_enabled()  # bfloat16 needs no loss scaling
            calls.clear()
            histories.append(model.fit(x, y, epochs=10, batch_size=32, verbose=0).history)
            assert ("backward_bf16" in calls) == (amp and bf16_available())  # the LSTM itself in bfloat16
            calls.clear()
            assert model.predict(x).dtype == np.float32
            assert ("forward_bf16" in calls) == (amp and bf16_available())
    finally:
        torch.set_autocast_dtype("cpu", before)
    full, mixed = histories
    assert mixed["accuracy"][-1] > 0.75 and mixed["loss"][-1] < mixed["loss"][0]
    # bfloat16 learns as float32 does: the final losses 0.006% apart measured; a model that learned
    # nothing would sit at ln 2, 3% above them
    assert mixed["loss"][-1] == pytest.approx(full["loss"][-1], rel=0.005)


def test_compile_takes_amp_as_a_bool_or_none() -> None:
    model = Sequential([Dense(1, input_shape=(3,))])
    with pytest.raises(TypeError, match="amp must be True, False or None, got 'bf16'"):
        model.compile(optimizer="adam", loss="mse", amp="bf16")  # type: ignore[arg-type]


def test_origin_forecaster_example_beats_predicting_the_mean() -> None:
    set_seed(0)
    x, y = _regression(96)
    model = Sequential()
    model.add(LSTM(8, input_shape=(6, 1)))
    model.add(Dense(1))
    model.compile(loss="mean_squared_error", optimizer=optimizers.Adam(learning_rate=0.01))
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    y_pred = model.predict(x)
    assert float(((y_pred - y) ** 2).mean()) < 0.3 * float(((y - y.mean()) ** 2).mean())


def test_fit_is_reproducible_with_set_seed() -> None:
    x, y = _regression(32)
    weights = []
    for _ in range(2):
        set_seed(3)
        model = Sequential([LSTM(4, input_shape=(6, 1)), Dropout(0.2), Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        weights.append(model.module.state_dict())
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


def test_validation_split_takes_the_tail_and_logs_val_metrics() -> None:
    x, y = _regression(40)
    model = _lstm_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[30:], y[30:])[0])


def test_validation_data_and_evaluate_return_dict() -> None:
    x, y = _regression(24)
    model = _lstm_model()
    model.compile(optimizer="rmsprop", loss="huber", metrics=["mse"])
    history = model.fit(x[:16], y[:16], epochs=1, validation_data=(x[16:], y[16:]), verbose=0)
    logs = model.evaluate(x[16:], y[16:], return_dict=True)
    assert history.history["val_loss"] == [pytest.approx(logs["loss"])]
    assert history.history["val_mse"] == [pytest.approx(logs["mse"])]


def test_model_wraps_any_torch_module_and_accepts_pandas_and_tensors() -> None:
    set_seed(0)
    frame = pd.DataFrame({"a": np.linspace(-1, 1, 32), "b": np.linspace(1, -1, 32) ** 2})
    target = pd.Series(2 * frame["a"] - frame["b"])
    linear = torch.nn.Linear(2, 1)
    model = Model(linear)
    model.compile(optimizer=torch.optim.SGD(linear.parameters(), lr=0.1), loss="mse")
    model.fit(frame, target, epochs=60, batch_size=8, verbose=0)
    assert model.evaluate(torch.tensor(frame.to_numpy()), torch.tensor(target.to_numpy())) < 1e-3
    assert model.predict(frame).shape == (32, 1)
    assert model(torch.zeros(1, 2)).shape == (1, 1)  # the model itself is an nn.Module
    model.compile(optimizer=torch.optim.Adagrad, loss="mae")
    model.fit(frame, target, epochs=1, verbose=0)
    assert isinstance(model.optimizer, torch.optim.Adagrad)


def test_dataset_and_dataloader_inputs() -> None:
    x, y = _regression(16)
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    model = _lstm_model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(dataset, epochs=1, batch_size=4, verbose=0, validation_data=DataLoader(dataset, batch_size=8))
    history = model.fit(DataLoader(dataset, batch_size=4, shuffle=True), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert model.predict(DataLoader(TensorDataset(torch.from_numpy(x)), batch_size=5)).shape == (16, 1)


def test_train_on_batch_steps_once() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    before = model.evaluate(x, y)[0]
    loss, mae = model.train_on_batch(x, y)
    assert loss == pytest.approx(before, rel=1e-5) and mae > 0
    assert model.evaluate(x, y)[0] < before


def test_sample_weight_and_class_weight_scale_the_loss() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.0), loss="mse")
    base = model.train_on_batch(x, y)
    assert model.train_on_batch(x, y, sample_weight=np.full(8, 3.0)) == pytest.approx(3 * base, rel=1e-5)
    weights = np.zeros(8)
    weights[0] = 8.0
    single = float(((model.predict(x[:1]) - y[:1]) ** 2).mean())
    assert model.train_on_batch(x, y, sample_weight=weights) == pytest.approx(single, rel=1e-4)
    labels = np.array([0, 1] * 4, dtype="float32")
    clf = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    clf.compile(optimizer=torch.optim.SGD(clf.parameters(), lr=0.0), loss="binary_crossentropy")
    data = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    plain = clf.train_on_batch(data, labels)
    doubled = clf.train_on_batch(data, labels, class_weight={0: 2.0, 1: 2.0})
    assert doubled == pytest.approx(2 * plain, rel=1e-5)
    with pytest.raises(ValueError, match="class_weight has no weight for class 1"):
        clf.train_on_batch(data, labels, class_weight={0: 1.0})


def test_clipnorm_and_clipvalue_bound_the_step() -> None:
    x, y = _regression(8)
    y = y * 1000  # huge gradients
    for kwargs in ({"clipnorm": 1e-3}, {"clipvalue": 1e-4}):
        model = Sequential([Dense(1, input_shape=(6,))])
        before = [p.detach().clone() for p in model.parameters()]
        model.compile(optimizer="sgd", loss="mse", **kwargs)
        model.train_on_batch(x[:, :, 0], y)
        step = torch.cat(
            [(p.detach() - b).reshape(-1) for p, b in zip(model.parameters(), before, strict=True)]
        )
        if "clipnorm" in kwargs:
            assert float(step.norm()) == pytest.approx(0.01 * 1e-3, rel=0.05)  # lr * clipnorm
        else:
            assert float(step.abs().max()) == pytest.approx(0.01 * 1e-4, rel=0.05)  # lr * clipvalue


def test_summary_prints_keras_counts() -> None:
    lines: list[str] = []
    model = Sequential([LSTM(50, input_shape=(100, 1)), Dense(1)])
    assert model.summary(print_fn=lines.append) is None  # as Keras: a notebook shows it once
    text = model.summary(print_fn=None)
    assert isinstance(text, str) and lines == [text]
    assert "(None, 50)" in text and "10,400" in text and "Total params: 10,451" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "mse2"}, ValueError, "unknown loss 'mse2'; expected one of .*binary_crossentropy"),
        (
            {"loss": "mse", "optimizer": "adamx"},
            ValueError,
            "unknown optimizer 'adamx'; expected one of adagrad, adam",
        ),
        (
            {"loss": "mse", "metrics": ["acuracy"]},
            ValueError,
            "unknown metric 'acuracy'; expected one of .*accuracy",
        ),
        ({"loss": "mse", "metrics": "accuracy"}, TypeError, "metrics must be a list"),
        ({"loss": "mse", "clipnorm": -1}, ValueError, "clipnorm must be a positive number"),
    ],
    ids=["loss", "optimizer", "metric", "metrics-str", "clipnorm"],
)
def test_compile_rejects_unknown_strings(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _lstm_model().compile(**kwargs)


def test_bad_data_errors() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="same number of samples, got x with 8 and y with 7"):
        model.fit(x, y[:7], verbose=0)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 6, 1\), got \(8, 5, 1\)"):
        model.fit(x[:, :5], y, verbose=0)
    bad = x.copy()
    bad[3, 2, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"x contains 1 NaN or infinite value\(s\), the first at index \(3, 2, 0\)"
    ):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="y contains 1 NaN or infinite"):
        model.fit(x, np.where(np.arange(8)[:, None] == 0, np.inf, y), verbose=0)
    with pytest.raises(ValueError, match="x is empty"):
        model.predict(x[:0])
    with pytest.raises(TypeError, match="x must hold numbers, got an array of Python objects"):
        model.fit(np.array([["a", 1]], dtype=object), np.zeros(1), verbose=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\), got 1.5"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(RuntimeError, match=r"call compile\(optimizer=..., loss=...\) before fit\(\)"):
        _lstm_model().fit(x, y)


def test_predict_before_build_is_a_clear_error() -> None:
    model = Sequential([LSTM(4), Dense(1)])
    with pytest.raises(ValueError, match="is not built yet, so it has no weights to predict with"):
        model.predict(np.zeros((2, 3, 1)))
    model.build((None, 3, 1))
    assert model.predict(np.zeros((2, 3, 1))).shape == (2, 1)


def test_dataset_source_gives_an_empty_share_with_the_right_shapes() -> None:
    from lstmkit.models.data import DatasetSource

    x, y = _regression(4)
    source = DatasetSource(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)))
    xs, ys, ws = source.take(torch.zeros(0, dtype=torch.long))
    assert xs.shape == (0, 6, 1) and ys is not None and ys.shape == (0, 1) and ws is None


def test_summary_prints_none_for_the_axes_that_follow_a_free_length() -> None:
    # built for inputs of any length: the steps are None as Keras prints them, a fixed length stays fixed
    from lstmkit.layers import GlobalAveragePooling1D, MaxPooling1D, RepeatVector

    model = Sequential(
        [
            LSTM(3, return_sequences=True, input_shape=(None, 2)),
            MaxPooling1D(4),  # a window longer than the old build's two steps
            LSTM(4),
            RepeatVector(5),
            LSTM(2, return_sequences=True),
            GlobalAveragePooling1D(),
        ]
    )
    text = model.summary(print_fn=None)
    shapes = re.findall(r"\(None[^)]*\)", text)
    assert shapes == [
        "(None, None, 3)", "(None, None, 3)", "(None, 4)", "(None, 5, 4)", "(None, 5, 2)", "(None, 2)"
    ]  # fmt: skip
    assert model.predict(np.zeros((2, 9, 2), dtype="float32"), verbose=0).shape == (2, 2)


def test_layer_names_follow_keras_snake_case() -> None:
    from lstmkit.layers import GlobalAveragePooling1D, MaxPooling1D, SimpleRNN

    assert MaxPooling1D().name.startswith("max_pooling1d")
    assert GlobalAveragePooling1D().name.startswith("global_average_pooling1d")
    assert SimpleRNN(2).name.startswith("simple_rnn")


def test_input_layer_declares_the_shape_and_is_not_a_summary_row() -> None:
    from lstmkit.layers import Input

    model = Sequential([Input((5, 1)), LSTM(3), Dense(1)])
    assert model.built and model.count_params() == 4 * (3 * (1 + 3) + 3) + 4
    text = model.summary(print_fn=None)
    assert "Input" not in text and "(None, 3)" in text and "(None, 1)" in text


def test_loss_of_a_masked_sequence_output_skips_padding() -> None:
    from lstmkit.layers import Embedding, TimeDistributed

    model = Sequential(
        [Embedding(6, 3, mask_zero=True), LSTM(4, return_sequences=True), TimeDistributed(Dense(1))]
    )
    model.compile(optimizer="sgd", loss="mse")
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 1, 2, 3]])
    y = np.random.default_rng(0).normal(size=(2, 5, 1)).astype("float32")
    model.build((None, 5))
    pred = model.predict(ids)
    # Keras 3's reduction: the sum over the batch's 8 valid steps over 8 (not the mean of per-sample means)
    valid_sum = ((pred[0, :3] - y[0, :3]) ** 2).sum() + ((pred[1] - y[1]) ** 2).sum()
    assert model.evaluate(ids, y) == pytest.approx(float(valid_sum / 8), rel=1e-5)
    y_changed = y.copy()
    y_changed[0, 3:] = 100.0  # targets at padded steps do not matter
    assert model.evaluate(ids, y_changed) == pytest.approx(model.evaluate(ids, y), rel=1e-6)


def test_metrics_of_a_masked_sequence_output_skip_padding_as_the_loss_does() -> None:
    from lstmkit.layers import Embedding, TimeDistributed

    model = Sequential(
        [Embedding(6, 3, mask_zero=True), LSTM(4, return_sequences=True), TimeDistributed(Dense(1))]
    )
    model.compile(optimizer="sgd", loss="mae", metrics=["mae", "mse"])
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 1, 2, 3]])
    y = np.random.default_rng(0).normal(size=(2, 5, 1)).astype("float32")
    y[0, 3:] = 100.0  # targets at padded steps: counted, they would dominate every metric
    model.build((None, 5))
    pred = model.predict(ids)
    valid = np.array([[True] * 3 + [False] * 2, [True] * 5])
    loss, mae, mse = model.evaluate(ids, y)
    assert mae == pytest.approx(float(np.abs(pred - y)[valid].mean()), rel=1e-5)
    assert mse == pytest.approx(float(((pred - y) ** 2)[valid].mean()), rel=1e-5)
    assert loss == pytest.approx(mae, rel=1e-6)  # the loss counts every valid step once, as the metric does
    logs = model.train_on_batch(ids, y, return_dict=True)
    assert isinstance(logs, dict) and logs["mae"] < 5


def test_model_call_after_fit_or_train_on_batch_is_inference() -> None:
    x, y = _regression(16)
    model = Sequential([LSTM(8, input_shape=(6, 1)), Dropout(0.5), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not model.training and not model.module.training
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)  # no dropout: Keras's __call__
    model.train_on_batch(x[:8], y[:8])
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)
    model.train()  # torch's switch still works
    assert not torch.equal(model(x), model(x))


def test_train_on_batch_takes_a_dataset() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loss, mae = model.train_on_batch(dataset, None)
    assert np.isfinite(loss) and np.isfinite(mae)


def test_validation_split_floors_the_training_count_as_keras() -> None:
    for n, fraction, n_val in ((10, 0.25, 3), (7, 0.1, 1), (40, 0.25, 10)):
        x, y = _regression(n)
        model = _lstm_model()
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(x, y, epochs=1, batch_size=64, validation_split=fraction, verbose=0)
        tail = model.evaluate(x[n - n_val :], y[n - n_val :])
        assert history.history["val_loss"] == [pytest.approx(tail)], (n, fraction)
    model.fit(x, y, epochs=1, validation_split=np.float32(0.25), verbose=0)  # NumPy's floats too


def test_fit_checks_callbacks_validation_targets_and_verbose_before_training() -> None:
    from lstmkit.models.callbacks import EarlyStopping, LambdaCallback, ReduceLROnPlateau

    x, y = _regression(16)
    model = _lstm_model()
    model.compile(optimizer="sgd", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(TypeError, match=r"callbacks must be a list.*callbacks=\[EarlyStopping"):
        model.fit(x, y, callbacks=EarlyStopping(), verbose=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callbacks must be a list"):
        model.fit(x, y, callbacks=["early"], verbose=0)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="validation_data needs targets"):
        model.fit(x, y, validation_data=(x, None), verbose=0)
    for old, new in zip(before, model.get_weights(), strict=True):  # refused before any training
        np.testing.assert_array_equal(old, new)
    seen: list[int] = []
    generated = (c for c in [LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))])
    model.fit(x, y, epochs=2, callbacks=generated, verbose=0)  # type: ignore[arg-type]
    assert seen == [0, 1]  # a generator is read once, and its callbacks run
    model.fit(x, y, epochs=1, verbose=0)
    for call in (model.evaluate, model.predict):
        with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto', got 3"):
            call(x, y, verbose=3) if call is model.evaluate else call(x, verbose=3)
    with pytest.raises(TypeError, match="EarlyStopping patience must be an integer"):
        EarlyStopping(patience="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="EarlyStopping patience must be an integer"):
        EarlyStopping(patience=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ReduceLROnPlateau patience must be >= 0"):
        ReduceLROnPlateau(patience=-1)
    with pytest.raises(TypeError, match="ReduceLROnPlateau factor must be a number"):
        ReduceLROnPlateau(factor="0.5")  # type: ignore[arg-type]


class _Net(torch.nn.Module):
    """A hand-written network holding lazy Keras-face layers."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = LSTM(5, return_sequences=True)
        self.head = Dense(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[:, -1])


def test_model_builds_lazy_layers_inside_a_custom_module() -> None:
    x, y = _regression(16)
    model = Model(_Net())
    assert not model.built
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert model.built and model.count_params() == 4 * (5 * (1 + 5) + 5) + 6
    assert model.predict(x).shape == (16, 1)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy"])
def test_multiclass_training_with_sparse_or_one_hot_targets(loss: str) -> None:
    set_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=120)
    x = (np.eye(3)[labels] * 3 + rng.normal(size=(120, 3))).astype("float32")
    y = labels if loss.startswith("sparse") else np.eye(3, dtype="float32")[labels]
    model = Sequential([Dense(8, activation="relu", input_shape=(3,)), Dense(3, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(learning_rate=0.05), loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert (model.predict(x).argmax(axis=1) == labels).mean() > 0.9


@pytest.mark.parametrize("wrap", [TensorDataset, lambda *t: DataLoader(TensorDataset(*t), batch_size=4)])
@pytest.mark.parametrize("where", ["x", "y"])
def test_nan_from_a_dataset_or_dataloader_is_refused_before_it_reaches_the_weights(wrap, where: str) -> None:
    x, y = (torch.from_numpy(a) for a in _regression(8))
    (x if where == "x" else y)[3, 0] = float("nan")
    model = _lstm_model()
    model.compile("adam", "mse")
    with pytest.raises(
        ValueError, match=rf"{where} \(a batch from the (Dataset|DataLoader)\) contains 1 NaN"
    ):
        model.fit(wrap(x, y), epochs=1, batch_size=4, verbose=0)
    model.fit(wrap(x.nan_to_num(), y.nan_to_num()), epochs=1, batch_size=4, verbose=0)
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())


def test_integer_features_are_cast_to_float_as_keras_does() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 3, size=(8, 6, 1)), rng.integers(0, 2, size=8)
    set_seed(0)
    model = _lstm_model()
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    np.testing.assert_array_equal(model.predict(x), model.predict(x.astype("float32")))
    dense = Sequential([Dense(2, input_shape=(3,)), Dense(1)])
    dense.compile("adam", "mse")
    dense.fit(rng.integers(0, 5, size=(4, 3)), np.zeros(4), verbose=0)
    assert dense.predict(np.ones((2, 3), dtype=bool)).shape == (2, 1)


def test_any_number_of_steps_with_none_in_input_shape() -> None:
    from lstmkit.layers import Input

    for first in ([LSTM(3, input_shape=(None, 1))], [Input(shape=(None, 1)), LSTM(3)]):
        model = Sequential([*first, Dense(1)])
        model.compile("adam", "mse")
        x, y = _regression(8, steps=5)
        model.fit(x, y, epochs=1, verbose=0)
        assert model.predict(_regression(3, steps=9)[0]).shape == (3, 1)
    with pytest.raises(
        ValueError, match=r"None for any number of steps, not for the features\), got \(4, None\)"
    ):
        LSTM(3, input_shape=(4, None))


def test_class_weight_with_numpy_keys_and_values_equals_python_numbers() -> None:
    labels = np.array([0, 1] * 4)
    data = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    clf = Sequential([Dense(1, activation="sigmoid", input_shape=(3,))])
    clf.compile(optimizer=torch.optim.SGD(clf.parameters(), lr=0.0), loss="binary_crossentropy")
    python = clf.train_on_batch(data, labels, class_weight={0: 1.0, 1: 2.0})
    numpy = clf.train_on_batch(
        data, labels, class_weight=dict(zip(np.unique(labels), np.float32([1, 2]), strict=True))
    )
    assert numpy == pytest.approx(python, rel=1e-6)
    for bad in ({0: -1.0, 1: 1.0}, {0: float("nan"), 1: 1.0}, {True: 1.0}, {0.5: 1.0}):
        with pytest.raises(ValueError, match="class_weight must map int class ids to finite non-negative"):
            clf.train_on_batch(data, labels, class_weight=bad)


def test_evaluate_without_targets_and_a_dataset_without_y_are_clear_errors() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="evaluate needs targets: pass y"):
        model.evaluate(x)
    with pytest.raises(ValueError, match="the Dataset/DataLoader yielded x alone; yield"):
        model.fit(TensorDataset(torch.from_numpy(x)), epochs=1, verbose=0)


def test_predict_on_batch_and_test_on_batch_match_predict_and_evaluate() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    np.testing.assert_array_equal(model.predict_on_batch(x), model.predict(x))
    loss = model.test_on_batch(x, y)
    assert isinstance(loss, float) and loss == pytest.approx(model.evaluate(x, y), rel=1e-6)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert model.test_on_batch(x, y) == pytest.approx(model.evaluate(x, y), rel=1e-6)  # [loss, mae]
    assert set(model.test_on_batch(x, y, return_dict=True)) == {"loss", "mae"}
    weighted = model.test_on_batch(x, y, sample_weight=np.r_[np.ones(4), np.zeros(4)])
    assert weighted[0] == pytest.approx(model.evaluate(x, y, sample_weight=np.r_[np.ones(4), np.zeros(4)])[0])
    for got, expected in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, expected)  # neither call trains
    loader = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    with pytest.raises(
        TypeError, match=r"test_on_batch takes the arrays of one batch, got a DataLoader; use evaluate"
    ):
        model.test_on_batch(loader)
    with pytest.raises(ValueError, match="is not built yet, so it has no weights to predict_on_batch with"):
        Sequential([LSTM(2), Dense(1)]).predict_on_batch(x)


def test_calling_the_model_on_numpy_converts_it_as_keras_does() -> None:
    x, _ = _regression(4)
    model = _lstm_model().eval()
    expected = model(torch.from_numpy(x))
    torch.testing.assert_close(model(x.astype("float64")), expected)  # float64 -> the weights' float32
    torch.testing.assert_close(model(x.tolist()), expected)
    model.double()
    out = model(x)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, expected.double(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="x must hold numbers"):
        model(object())


def test_a_float64_network_fits_evaluates_and_predicts_arrays_of_floats() -> None:
    # data arrives as float32; a float64 network takes it in its own dtype, as Keras casts to a layer's
    torch.manual_seed(0)
    model = Model(torch.nn.Linear(3, 1).double())
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.module.weight.dtype == torch.float64
    expected = model.module(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)
    assert np.isfinite(model.evaluate(x, y))


def test_a_free_length_model_with_long_windows_builds_on_longer_probes(tmp_path: Path) -> None:
    # windows beyond the first probe's 32 steps (one kernel of 64, four conv + pool blocks) build, as Keras
    from lstmkit.layers import Conv1D, Input, MaxPooling1D

    wide = Sequential([Conv1D(4, 64, input_shape=(None, 1)), LSTM(3), Dense(1)])
    assert wide.built and wide.stack.output_shapes[0] == (None, None, 4)
    blocks = [layer for _ in range(4) for layer in (Conv1D(4, 3), MaxPooling1D(2))]
    deep = Sequential([Input((None, 1)), *blocks, LSTM(3), Dense(1)])
    assert deep.predict(np.zeros((2, 100, 1), dtype="float32"), verbose=0).shape == (2, 1)
    plain = Model(torch.nn.Sequential(Conv1D(4, 40), LSTM(2)))
    plain.build((None, None, 2))
    assert plain.built and plain.module.training  # the mode it had, after a failed probe too
    plain.save(tmp_path / "plain.lstmkit")  # the shape it was built on, not the failed probe's
    loaded = load_model(tmp_path / "plain.lstmkit", module=torch.nn.Sequential(Conv1D(4, 40), LSTM(2)))
    x = np.random.default_rng(0).normal(size=(2, 50, 2)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), plain.predict(x, verbose=0))
    # another failure is raised at once, from the first probe
    from lstmkit.layers import Reshape

    with pytest.raises(ValueError, match=r"Reshape .* cannot reshape input of shape \(2, 32, 3\)"):
        Sequential([LSTM(3, return_sequences=True, input_shape=(None, 2)), Reshape((5, 7))])


def test_a_sequential_built_from_data_reloads_on_that_shape(tmp_path: Path) -> None:
    # a Flatten before a Dense ties the Dense to the length the model was built on, which the file keeps
    from lstmkit.layers import Conv1D, Flatten

    model = Sequential([Conv1D(4, 3), Flatten(), Dense(1)])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(16, 10, 2)).astype("float32")
    model.fit(x, np.zeros((16, 1), dtype="float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "m.lstmkit").predict(x), model.predict(x))


def test_export_of_a_model_built_from_data_behind_a_dropout_takes_its_features(tmp_path: Path) -> None:
    # the Dropout fixes no axis: the made-up export example takes the features the model was built with
    model = Sequential([Dropout(0.1), LSTM(3), Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.zeros((8, 5, 2), dtype="float32"), np.zeros((8, 1), dtype="float32"), epochs=1, verbose=0)
    example = model.example_input_array
    assert example is not None and example.shape == (2, 5, 2)
    model.export(tmp_path / "m.onnx")


@pytest.mark.parametrize(
    ("shape", "error", "message"),
    [
        ((None, 0), ValueError, r"build input_shape\[1\] must be >= 1, got 0"),
        ((None, 3.5), TypeError, r"build input_shape\[1\] must be an integer, got float 3.5"),
        ("abc", TypeError, r"build expects input_shape as a tuple like \(None, 100, 1\), got 'abc'"),
    ],
    ids=["zero", "float", "text"],
)
def test_build_refuses_a_shape_it_cannot_build(shape: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Sequential([Dense(2)]).build(shape)


def test_fit_takes_a_loader_over_an_iterable_dataset_without_a_length(
    capfd: pytest.CaptureFixture[str],
) -> None:
    x, y = _regression(12)

    class Stream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from zip(x, y, strict=True)

    model = _lstm_model()
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(DataLoader(Stream(), batch_size=4), epochs=2, verbose=1)
    assert len(history.history["loss"]) == 2 and history.params["steps"] is None  # unknown, as Keras's None
    assert "Epoch 2/2" in capfd.readouterr().err


class _Recorder(torch.nn.Module):
    """A linear model that records the first feature of every training sample it sees, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.seen: list[list[int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.seen.append([int(v) for v in x[:, 0]])
        return self.linear(x)


def _numbered(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n, dtype="float32").reshape(n, 1)
    return x, np.zeros((n, 1), dtype="float32")


def test_fit_steps_per_epoch_continues_the_data_across_epochs() -> None:
    x, y = _numbered(12)  # 3 batches of 4
    recorder = _Recorder()
    model = Model(recorder)
    model.compile(optimizer="sgd", loss="mse")
    batches: list[int] = []
    count = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    history = model.fit(
        x, y, batch_size=4, epochs=3, steps_per_epoch=2, shuffle=False, callbacks=[count], verbose=0
    )
    # as Keras 3: each epoch goes on where the last stopped, and a finished pass starts the next
    assert [b[0] for b in recorder.seen] == [0, 4, 8, 0, 4, 8]
    assert batches == [0, 1, 0, 1, 0, 1]
    assert history.params["steps"] == 2 and count.params["steps"] == 2
    assert len(history.history["loss"]) == 3


def test_fit_steps_per_epoch_reshuffles_each_new_pass() -> None:
    x, y = _numbered(12)
    recorder = _Recorder()
    model = Model(recorder)
    model.compile(optimizer="sgd", loss="mse")
    set_seed(0)
    model.fit(x, y, batch_size=4, epochs=3, steps_per_epoch=3, verbose=0)
    passes = [sorted(v for b in recorder.seen[k : k + 3] for v in b) for k in (0, 3, 6)]
    assert passes == [list(range(12))] * 3  # every epoch one whole pass, each sample once


@pytest.mark.parametrize(
    ("steps", "error", "message"),
    [
        (4, ValueError, r"steps_per_epoch=4 asks for more batches than the data has: 3 batches per pass"),
        (0, ValueError, r"steps_per_epoch must be >= 1, got 0"),
        ("2", TypeError, r"steps_per_epoch must be an integer, got str '2'"),
    ],
    ids=["more-than-the-data", "zero", "text"],
)
def test_fit_refuses_a_bad_steps_per_epoch(steps: object, error: type[Exception], message: str) -> None:
    x, y = _numbered(12)
    model = Model(torch.nn.Linear(1, 1))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(error, match=message):
        model.fit(x, y, batch_size=4, steps_per_epoch=steps, verbose=0)  # type: ignore[arg-type]


def test_fit_steps_per_epoch_on_a_loader_without_a_length_stops_when_it_runs_out() -> None:
    x, y = _numbered(12)

    class Stream(torch.utils.data.IterableDataset):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield from zip(x, y, strict=True)

    recorder = _Recorder()
    model = Model(recorder)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(DataLoader(Stream(), batch_size=4), epochs=3, steps_per_epoch=1, verbose=0)
    assert [b[0] for b in recorder.seen] == [0, 4, 8]  # one iterator across the epochs
    assert history.params["steps"] == 1
    recorder.seen.clear()
    with pytest.warns(UserWarning, match=r"the training data ran out after 3 batches; interrupting training"):
        history = model.fit(DataLoader(Stream(), batch_size=4), epochs=5, steps_per_epoch=2, verbose=0)
    assert [b[0] for b in recorder.seen] == [0, 4, 8]
    assert history.epoch == [0, 1]  # the second epoch ran out after one batch; no third epoch


@pytest.mark.parametrize(
    ("freq", "validated"),
    [(2, [False, True, False, True]), ([1, 3], [True, False, True, False])],
    ids=["every-2", "epochs-1-and-3"],
)
def test_fit_validation_freq_validates_on_the_epochs_asked_for(freq: object, validated: list[bool]) -> None:
    x, y = _numbered(12)
    model = Model(torch.nn.Linear(1, 1))
    model.compile(optimizer="sgd", loss="mse")
    seen: list[bool] = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append("val_loss" in logs))
    history = model.fit(
        x, y, epochs=4, validation_data=(x, y), validation_freq=freq, callbacks=[record], verbose=0
    )
    assert seen == validated
    assert len(history.history["val_loss"]) == 2 and len(history.history["loss"]) == 4


@pytest.mark.parametrize(
    ("freq", "error", "message"),
    [
        (0, ValueError, r"validation_freq must be >= 1 \(validate every N epochs\), got 0"),
        ([0, 2], ValueError, r"validation_freq lists epoch numbers, counted from 1, got 0 in \[0, 2\]"),
        (1.5, TypeError, r"validation_freq must be an int .* or a list of epoch numbers .* got 1.5"),
        (True, TypeError, r"validation_freq must be an int .* got True"),
        ("2", TypeError, r"validation_freq must be an int .* got '2'"),
    ],
    ids=["zero", "epoch-zero", "float", "bool", "text"],
)
def test_fit_refuses_a_bad_validation_freq(freq: object, error: type[Exception], message: str) -> None:
    x, y = _numbered(4)
    model = Model(torch.nn.Linear(1, 1))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(error, match=message):
        model.fit(x, y, validation_freq=freq, verbose=0)  # type: ignore[arg-type]


def test_fit_refuses_dicts_generators_and_text_naming_what_it_takes() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(TypeError, match=r"x must be one array .* got a dict with keys \['a'\]"):
        model.fit({"a": x}, y, verbose=0)
    with pytest.raises(
        TypeError, match="x must be an array, a Dataset or a DataLoader, got a generator; wrap"
    ):
        model.fit((row for row in x), y, verbose=0)
    with pytest.raises(TypeError, match=r"y must hold real numbers .* got dtype <U3; encode text labels"):
        model.fit(x, np.array(["cat"] * 8), verbose=0)


def test_sample_weight_as_a_column_weighs_as_a_flat_array() -> None:
    x, y = _regression(8)
    model = _lstm_model()
    model.compile(optimizer="adam", loss="mse")
    model.build((None, 6, 1))
    weights = np.arange(1.0, 9.0)
    flat = model.evaluate(x, y, sample_weight=weights)
    assert model.evaluate(x, y, sample_weight=weights[:, None]) == pytest.approx(flat)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(8,\) or \(8, 1\).*got \(8, 2\)"):
        model.evaluate(x, y, sample_weight=np.ones((8, 2)))
