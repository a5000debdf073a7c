"""Keras 3's losses and their reduction, against NumPy written out from Keras's definitions.

The formulas are those of ``keras/src/losses/losses.py``; the reduction (a masked sequence output divides
the weighted sum over its valid steps by their count in the batch) is ``keras/src/losses/loss.py``'s
``apply_mask``/``reduce_weighted_values``; the epoch's loss is the trainer's loss tracker, the batch losses'
mean weighted by their sample counts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from lstmkit.layers import LSTM, Dense, Embedding, TimeDistributed
from lstmkit.models import Sequential
from lstmkit.models.losses import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    KLDivergence,
    LogCosh,
    MeanAbsolutePercentageError,
    get_loss,
)
from lstmkit.models.metrics import get_metric
from lstmkit.utils import set_seed

EPS = 1e-7
Reference = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _hinge_labels(y: np.ndarray) -> np.ndarray:
    return 2 * y - 1 if np.isin(y, (0, 1)).all() else y


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), EPS)


# Keras's per-entry values (a mean or sum over the last axis), as functions of (y_pred, y_true)
REFERENCES: dict[str, Reference] = {
    "mape": lambda p, y: 100 * np.mean(np.abs((y - p) / np.maximum(np.abs(y), EPS)), axis=-1),
    "msle": lambda p, y: np.mean(
        (np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2, axis=-1
    ),
    "log_cosh": lambda p, y: np.mean(np.log(np.cosh(p - y)), axis=-1),
    "cosine_similarity": lambda p, y: -np.sum(_unit(y) * _unit(p), axis=-1),
    "poisson": lambda p, y: np.mean(p - y * np.log(p + EPS), axis=-1),
    "kld": lambda p, y: np.sum(np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1) / np.clip(p, EPS, 1)), axis=-1),
    "hinge": lambda p, y: np.mean(np.maximum(1 - _hinge_labels(y) * p, 0), axis=-1),
    "squared_hinge": lambda p, y: np.mean(np.maximum(1 - _hinge_labels(y) * p, 0) ** 2, axis=-1),
}


def _data(name: str, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(len(name))
    if name in ("msle", "poisson", "kld"):  # rates and distributions: positive (kld: a zero target too)
        p, y = rng.uniform(0.05, 1.0, shape), rng.uniform(0.0, 1.0, shape)
        y.flat[0] = 0.0
    elif name in ("hinge", "squared_hinge"):
        p, y = rng.normal(size=shape), rng.integers(0, 2, shape).astype(float)
    else:
        p, y = rng.normal(size=shape), rng.normal(size=shape)
        y.flat[0] = 0.0  # mape's clipped denominator; cosine_similarity's non-zero rows stay non-zero
    return p, y


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 4)], ids=["2d", "3d"])
@pytest.mark.parametrize("name", list(REFERENCES))
def test_each_loss_is_kerass_formula(name: str, shape: tuple[int, ...]) -> None:
    p, y = _data(name, shape)
    expected = REFERENCES[name](p, y).reshape(shape[0], -1).mean(axis=1)  # per sample: the mean of the rest
    got = LOSSES[name](torch.from_numpy(p), torch.from_numpy(y))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_hinge_converts_0_1_labels_only_when_every_label_is_0_or_1() -> None:
    p = torch.tensor([[0.3, -2.0], [0.5, 1.5]], dtype=torch.float64)
    binary = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    signed = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # a -1: taken as -1/1 labels, the 0 kept as 0
    torch.testing.assert_close(LOSSES["hinge"](p, binary), torch.tensor([0.35, 0.75], dtype=torch.float64))
    torch.testing.assert_close(LOSSES["hinge"](p, signed), torch.tensor([0.85, 0.75], dtype=torch.float64))


def test_cosine_similarity_is_minus_1_when_aligned_and_0_for_a_zero_vector() -> None:
    p = torch.tensor([[0.0, 0.0], [1.0, 2.0], [1.0, 0.0]])
    y = torch.tensor([[1.0, 1.0], [2.0, 4.0], [-3.0, 0.0]])
    assert LOSSES["cosine_similarity"](p, y).tolist() == pytest.approx([0.0, -1.0, 1.0])


def test_huber_delta_is_kerass_piecewise_formula() -> None:
    p, y = np.array([[0.2, -1.7, 3.0]]), np.array([[0.0, 0.0, 0.5]])
    for delta in (1.0, 0.5, 2.0):
        e = np.abs(p - y)
        expected = np.mean(np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2), axis=-1)
        _, loss = get_loss(Huber(delta=delta))
        np.testing.assert_allclose(loss(torch.from_numpy(p), torch.from_numpy(y)).numpy(), expected)


def _bce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)


def _cce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -np.sum(y * np.log(np.clip(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS)), axis=-1)


@pytest.mark.parametrize("from_logits", [False, True], ids=["probabilities", "logits"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_label_smoothing_is_kerass(from_logits: bool, smoothing: float) -> None:
    z = np.random.default_rng(0).normal(size=(5, 3))
    y = np.eye(3)[[0, 2, 1, 1, 0]]
    sigmoid, softmax = 1 / (1 + np.exp(-z)), np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    outputs = (z, z) if from_logits else (sigmoid, softmax)
    _, binary = get_loss(BinaryCrossentropy(from_logits=from_logits, label_smoothing=smoothing))
    expected = _bce(sigmoid, y * (1 - smoothing) + 0.5 * smoothing)  # squeezed towards 0.5
    got = binary(torch.from_numpy(outputs[0]), torch.from_numpy(y))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)
    _, categorical = get_loss(CategoricalCrossentropy(from_logits=from_logits, label_smoothing=smoothing))
    expected = _cce(softmax, y * (1 - smoothing) + smoothing / 3)  # spread over the 3 classes
    got = categorical(torch.from_numpy(outputs[1]), torch.from_numpy(y))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-9)


def test_specs_name_the_loss_and_its_parameter() -> None:
    assert BinaryCrossentropy(label_smoothing=0.0) == "binary_crossentropy"  # the default: the bare name
    assert BinaryCrossentropy(True, 0.25) == "binary_crossentropy_from_logits(label_smoothing=0.25)"
    assert CategoricalCrossentropy(label_smoothing=1) == "categorical_crossentropy(label_smoothing=1.0)"
    assert (Huber(), Huber(delta=np.float32(2.0))) == ("huber", "huber(delta=2.0)")
    assert (MeanAbsolutePercentageError(), LogCosh(), KLDivergence()) == (
        "mean_absolute_percentage_error",
        "log_cosh",
        "kl_divergence",
    )
    assert get_loss("huber(delta=1.0)")[0] == "huber"  # canonical
    assert get_loss("huber_loss(delta=3)")[0] == "huber_loss(delta=3.0)"
    aliases = {"mape": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error"}
    aliases |= {"logcosh": "log_cosh", "kld": "kl_divergence"}
    assert all(LOSSES[alias] is LOSSES[name] for alias, name in aliases.items())


BAD_SPECS = {
    "smoothing-above-1": (
        lambda: BinaryCrossentropy(label_smoothing=1.5),
        ValueError,
        r"label_smoothing must be in \[0, 1\], got 1.5",
    ),
    "smoothing-a-string": (
        lambda: CategoricalCrossentropy(label_smoothing="0.1"),
        TypeError,
        "label_smoothing must be a number in",
    ),
    "from-logits-an-int": (
        lambda: BinaryCrossentropy(from_logits=1),
        TypeError,
        "from_logits must be True or False, got int 1",
    ),
    "delta-0": (lambda: Huber(delta=0), ValueError, "delta must be a finite number > 0, got 0"),
    "mse-takes-none": (
        lambda: get_loss("mse(delta=2)"),
        ValueError,
        r"loss 'mse\(delta=2\)': mse takes no parameter, got delta",
    ),
    "huber-takes-delta": (
        lambda: get_loss("huber(label_smoothing=0.1)"),
        ValueError,
        "huber takes only delta, got label_smoothing",
    ),
    "delta-a-word": (lambda: get_loss("huber(delta=wide)"), ValueError, "delta must be a number, got 'wide'"),
    "smoothing-nan": (
        lambda: get_loss("binary_crossentropy(label_smoothing=nan)"),
        ValueError,
        r"label_smoothing must be in \[0, 1\], got nan",
    ),
    "unknown": (lambda: get_loss("focal(gamma=2)"), ValueError, r"unknown loss 'focal\(gamma=2\)'; expected"),
    "class-not-called": (
        lambda: get_loss(Huber),
        TypeError,
        r"loss=Huber is a factory of a loss spec; call it: loss=Huber\(\)",
    ),
}


@pytest.mark.parametrize(("make", "error", "message"), list(BAD_SPECS.values()), ids=list(BAD_SPECS))
def test_bad_loss_specs_are_refused(make: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("name", list(REFERENCES))
def test_targets_of_the_wrong_shape_name_expected_and_received(name: str) -> None:
    shapes = r"expected targets of shape \(4, 3\) \(the model's output\), got \(4, 2\)"
    with pytest.raises(ValueError, match=rf"loss '{LOSSES[name].__name__}' {shapes}"):
        LOSSES[name](torch.zeros(4, 3), torch.zeros(4, 2))
    metric = get_metric({"kld": "kl_divergence", "log_cosh": "log_cosh_error"}.get(name, name))
    with pytest.raises(ValueError, match=rf"metric '{metric.name}' {shapes}"):
        metric.update(torch.zeros(4, 3), torch.zeros(4, 2))


METRIC_OF = {  # Keras 3's metric name -> the loss whose per-sample mean it is (and its sign)
    "mape": ("mape", 1.0),
    "mean_squared_logarithmic_error": ("msle", 1.0),
    "log_cosh_error": ("log_cosh", 1.0),
    "cosine_similarity": ("cosine_similarity", -1.0),  # Keras's metric: +1 when aligned
    "poisson": ("poisson", 1.0),
    "kl_divergence": ("kld", 1.0),
    "hinge": ("hinge", 1.0),
    "squared_hinge": ("squared_hinge", 1.0),
}


@pytest.mark.parametrize("metric_name", list(METRIC_OF))
def test_metrics_average_kerass_per_sample_values_over_batches(metric_name: str) -> None:
    loss_name, sign = METRIC_OF[metric_name]
    p, y = _data(loss_name, (5, 3))
    metric = get_metric(metric_name)
    metric.update(torch.from_numpy(p[:2]), torch.from_numpy(y[:2]))
    metric.update(torch.from_numpy(p[2:]), torch.from_numpy(y[2:]))
    per_batch = [REFERENCES[loss_name](p[:2], y[:2]), REFERENCES[loss_name](p[2:], y[2:])]  # hinge: per batch
    assert metric.name == metric_name
    assert metric.result() == pytest.approx(sign * float(np.concatenate(per_batch).mean()), rel=1e-9)


def test_history_shows_each_metric_under_the_name_given() -> None:
    set_seed(0)
    x = np.random.default_rng(0).uniform(0.1, 1, size=(8, 3, 2)).astype("float32")
    y = x[:, -1, :]
    model = Sequential([LSTM(3, input_shape=(3, 2)), Dense(2, activation="softplus")])
    names = ["mape", "msle", "log_cosh_error", "cosine_similarity", "poisson", "kl_divergence"]
    model.compile(optimizer="sgd", loss=MeanAbsolutePercentageError(), metrics=names)
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0, validation_data=(x, y))
    assert list(history.history) == ["loss", *names, "val_loss", *(f"val_{n}" for n in names)]
    logs = model.evaluate(x, y, return_dict=True)
    assert isinstance(logs, dict) and logs["loss"] == pytest.approx(logs["mape"], rel=1e-5)


# -- the reduction of a masked sequence output -----------------------------------------------------------
IDS = np.array([[1, 2, 3, 0, 0], [0, 4, 5, 1, 2], [0, 0, 0, 0, 0], [3, 3, 0, 0, 0]])  # 0 is padding
VALID = IDS != 0
WEIGHTS = np.array([1.0, 2.0, 3.0, 0.5], dtype="float32")


def _masked_model() -> Sequential:
    set_seed(0)
    model = Sequential(
        [Embedding(6, 3, mask_zero=True), LSTM(4, return_sequences=True), TimeDistributed(Dense(1))]
    )
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.build((None, 5))
    return model


def _keras_masked_mse(p: np.ndarray, y: np.ndarray, w: np.ndarray, valid: np.ndarray) -> float:
    """``sum_{b,t} w_b m_bt (p_bt - y_bt)^2 / sum_{b,t} m_bt`` (0 without valid steps)."""
    count = valid.sum()
    return float((w[:, None] * valid * ((p - y) ** 2)[..., 0]).sum() / count) if count else 0.0


def test_masked_loss_divides_by_the_valid_steps_of_the_whole_batch() -> None:
    model = _masked_model()
    y = np.random.default_rng(0).normal(size=(4, 5, 1)).astype("float32")
    p = model.predict(IDS)
    expected = _keras_masked_mse(p, y, WEIGHTS, VALID)  # 10 valid steps; sample 2 has none
    assert model.evaluate(IDS, y, sample_weight=WEIGHTS)[0] == pytest.approx(expected, rel=1e-5)
    assert model.test_on_batch(IDS, y, sample_weight=WEIGHTS)[0] == pytest.approx(expected, rel=1e-5)
    # not the mean of the samples' means over their own steps (lstmkit before), nor over sum(w m) (Keras's
    # "mean_with_sample_weight")
    per_sample = [(WEIGHTS[b] * ((p[b] - y[b]) ** 2)[VALID[b]].mean()) for b in (0, 1, 3)]
    assert expected != pytest.approx(float(np.sum(per_sample) / 4), rel=1e-3)
    y_padded = y.copy()
    y_padded[~VALID] = 1e3  # targets at padded steps do not count
    assert model.evaluate(IDS, y_padded, sample_weight=WEIGHTS)[0] == pytest.approx(expected, rel=1e-5)
    # the metric counts every valid step once too: without weights, loss and mean squared error agree
    model.compile(optimizer="sgd", loss="mse", metrics=["mse"])
    loss, mse = model.evaluate(IDS, y)
    assert loss == pytest.approx(mse, rel=1e-6) == pytest.approx(_keras_masked_mse(p, y, np.ones(4), VALID))


def test_the_epoch_loss_weighs_each_batch_loss_by_its_samples_as_kerass_tracker() -> None:
    model = _masked_model()
    y = np.random.default_rng(1).normal(size=(4, 5, 1)).astype("float32")
    p = model.predict(IDS)
    halves = [slice(0, 2), slice(2, 4)]
    batch_losses = [_keras_masked_mse(p[k], y[k], WEIGHTS[k], VALID[k]) for k in halves]
    expected = (2 * batch_losses[0] + 2 * batch_losses[1]) / 4
    assert model.evaluate(IDS, y, batch_size=2, sample_weight=WEIGHTS)[0] == pytest.approx(expected, rel=1e-5)
    first, last = (_keras_masked_mse(p[k], y[k], WEIGHTS[k], VALID[k]) for k in (slice(0, 3), slice(3, 4)))
    got = model.evaluate(IDS, y, batch_size=3, sample_weight=WEIGHTS)[0]
    assert got == pytest.approx((3 * first + 1 * last) / 4, rel=1e-5)
    # fit reports the same (a learning rate of 0 keeps the weights, so every batch sees the same model)
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.0), loss="mse")
    history = model.fit(IDS, y, sample_weight=WEIGHTS, batch_size=2, shuffle=False, epochs=1, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_train_on_batch_steps_on_kerass_masked_loss() -> None:
    model = _masked_model()
    y = np.random.default_rng(2).normal(size=(4, 5, 1)).astype("float32")
    weights = [p.detach().clone().requires_grad_(p.requires_grad) for p in model.module.parameters()]
    reference = _masked_model()  # the same weights (same seed), differentiated by hand
    ids_t, y_t = torch.from_numpy(IDS), torch.from_numpy(y)
    names = [name for name, _ in reference.module.named_parameters()]
    pred = torch.func.functional_call(reference.module, dict(zip(names, weights, strict=True)), (ids_t,))
    valid = torch.from_numpy(VALID)
    w = torch.from_numpy(WEIGHTS)[:, None]
    expected = (w * valid * (pred - y_t)[..., 0] ** 2).sum() / valid.sum()
    expected.backward()
    loss = model.train_on_batch(IDS, y, sample_weight=WEIGHTS)
    assert loss[0] == pytest.approx(expected.item(), rel=1e-5)  # the loss before the step
    lr = model.optimizer.param_groups[0]["lr"]
    for after, before in zip(model.module.parameters(), weights, strict=True):
        step = 0.0 if before.grad is None else lr * before.grad  # (torch's bias_hh is held at zero)
        torch.testing.assert_close(after.detach(), before.detach() - step, rtol=1e-5, atol=1e-6)


def test_a_batch_without_valid_steps_has_loss_0_as_kerass_divide_no_nan() -> None:
    model = _masked_model()
    y = np.ones((2, 5, 1), dtype="float32")
    loss, mae = model.evaluate(np.zeros((2, 5), dtype="int64"), y)
    assert loss == 0.0 and np.isnan(mae)  # (a metric over no values is NaN)


def test_the_loss_sees_the_valid_steps_only_in_value_and_gradient() -> None:
    # a loss that is NaN at a padded step (sqrt of a negative output) reaches neither the loss nor the
    # weights; and hinge's 0/1-or-(-1)/1 reading of the targets is not decided by padded targets
    def nan_at_padding(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(y_pred - y_true + 10.0).mean(dim=-1)  # NaN, and a NaN derivative, where y = 1000

    model = _masked_model()
    model.compile(optimizer="sgd", loss=nan_at_padding)
    y = np.where(VALID[..., None], 0.0, 1e3).astype("float32")
    before = [q.detach().clone() for q in model.module.parameters()]
    assert np.isfinite(model.train_on_batch(IDS, y))
    after = list(model.module.parameters())
    assert all(torch.isfinite(q).all() for q in after)
    assert any(not torch.equal(q, b) for q, b in zip(after, before, strict=True))

    model = _masked_model()
    model.compile(optimizer="sgd", loss="hinge", metrics=["hinge"])
    y01 = (np.random.default_rng(3).random((4, 5, 1)) > 0.5).astype("float32")
    minus = y01.copy()
    minus[~VALID] = -1.0  # a -1 at padding: over every target the labels would read as -1/1
    assert model.evaluate(IDS, minus) == pytest.approx(model.evaluate(IDS, y01), rel=1e-6)
    loss, metric = model.evaluate(IDS, y01)
    assert loss == pytest.approx(metric, rel=1e-6)


def test_under_a_logits_loss_only_the_threshold_metrics_see_probabilities() -> None:
    set_seed(0)
    model = Sequential([LSTM(3, input_shape=(4, 2)), Dense(1)])
    model.compile("adam", BinaryCrossentropy(from_logits=True), metrics=["binary_accuracy", "hinge", "mae"])
    x = np.random.default_rng(0).normal(size=(16, 4, 2)).astype("float32") * 3
    logits = model.predict(x)
    y = ((logits > 0) & (logits <= 0.5)).astype("float32")  # where thresholding logits at 0.5 would err
    probabilities = 1 / (1 + np.exp(-logits))
    on_probabilities, on_logits = (
        float(((probabilities > 0.5) == y).mean()),
        float(((logits > 0.5) == y).mean()),
    )
    assert on_probabilities != on_logits  # the data tells the two apart
    _, accuracy, hinge, mae = model.evaluate(x, y)
    assert accuracy == pytest.approx(on_probabilities)
    assert hinge == pytest.approx(float(np.maximum(1 - (2 * y - 1) * logits, 0).mean()), rel=1e-5)  # as Keras
    assert mae == pytest.approx(float(np.abs(logits - y).mean()), rel=1e-5)


def test_class_weight_needs_one_label_per_sample_not_per_step() -> None:
    model = _masked_model()  # (Keras 3's class_weight_to_sample_weights fails on them too)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    y = (np.random.default_rng(0).random((4, 5, 1)) > 0.5).astype("float32")
    message = r"class_weight needs one label per sample, got targets of shape \(4, 5, 1\)"
    with pytest.raises(ValueError, match=message):
        model.fit(IDS, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)
