"""Loss and metric registries against independent computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lstmkit.layers import Dense
from lstmkit.models import Sequential, load_model
from lstmkit.models.losses import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    get_loss,
)
from lstmkit.models.metrics import AUC, Accuracy, Precision, Recall, get_metric


def test_regression_losses_match_torch() -> None:
    pred, true = torch.randn(5, 3), torch.randn(5, 3)
    torch.testing.assert_close(LOSSES["mse"](pred, true).mean(), F.mse_loss(pred, true))
    torch.testing.assert_close(LOSSES["mae"](pred, true).mean(), F.l1_loss(pred, true))
    torch.testing.assert_close(LOSSES["huber"](pred, true).mean(), F.huber_loss(pred, true))
    assert LOSSES["mse"](pred, true).shape == (5,)


def test_crossentropies_match_torch_on_probabilities() -> None:
    p = torch.rand(6, 1) * 0.98 + 0.01
    y = (torch.rand(6, 1) > 0.5).float()
    torch.testing.assert_close(LOSSES["binary_crossentropy"](p, y).mean(), F.binary_cross_entropy(p, y))
    logits = torch.randn(6, 4)
    probs = logits.softmax(-1)
    labels = torch.randint(0, 4, (6,))
    expected = F.cross_entropy(logits, labels)
    torch.testing.assert_close(LOSSES["sparse_categorical_crossentropy"](probs, labels).mean(), expected)
    one_hot = F.one_hot(labels, 4).float()
    torch.testing.assert_close(LOSSES["categorical_crossentropy"](probs, one_hot).mean(), expected)
    with pytest.raises(ValueError, match=r"expected class ids in \[0, 3\], got values in \[0, 4\]"):
        LOSSES["sparse_categorical_crossentropy"](probs, torch.tensor([0, 1, 2, 3, 4, 0]))
    with pytest.raises(ValueError, match=r"expected targets of shape \(6, 4\)"):
        LOSSES["categorical_crossentropy"](probs, labels)


def test_get_loss_accepts_callables() -> None:
    name, fn = get_loss(torch.nn.MSELoss())
    assert name == "MSELoss" and fn(torch.ones(2), torch.zeros(2)) == 1.0
    with pytest.raises(TypeError, match="loss must be a string or a callable"):
        get_loss(3)


def _accumulate(metric, batches):
    for pred, true in batches:
        metric.update(pred, true)
    return metric.result()


def test_accuracy_binary_categorical_and_sparse() -> None:
    assert _accumulate(Accuracy(), [(torch.tensor([[0.9], [0.2]]), torch.tensor([1.0, 1.0]))]) == 0.5
    probs = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert _accumulate(Accuracy(), [(probs, torch.tensor([1, 0, 0]))]) == pytest.approx(2 / 3)
    assert _accumulate(Accuracy(), [(probs, torch.tensor([[0, 1], [1, 0], [0, 1]]))]) == 1.0


def test_precision_recall_accumulate_over_batches() -> None:
    batches = [
        (torch.tensor([0.9, 0.8]), torch.tensor([1.0, 0.0])),
        (torch.tensor([0.1, 0.7]), torch.tensor([1.0, 1.0])),
    ]
    assert _accumulate(Precision(), batches) == pytest.approx(2 / 3)  # TP=2 of 3 predicted positive
    assert _accumulate(Recall(), batches) == pytest.approx(2 / 3)  # TP=2 of 3 actual positives


def test_auc_close_to_exact_rank_auc() -> None:
    generator = torch.Generator().manual_seed(0)
    true = (torch.rand(500, generator=generator) > 0.5).float()
    pred = (0.6 * true + 0.7 * torch.rand(500, generator=generator)).clamp(0, 1)
    positives, negatives = pred[true == 1], pred[true == 0]
    exact = float((positives[:, None] > negatives[None, :]).float().mean())
    auc = AUC()
    for chunk in range(5):
        auc.update(pred[chunk * 100 : (chunk + 1) * 100], true[chunk * 100 : (chunk + 1) * 100])
    assert auc.result() == pytest.approx(exact, abs=0.01)


def test_unknown_metric_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown metric 'f1'; expected one of acc, accuracy, auc"):
        get_metric("f1")


def test_binary_accuracy_scores_each_output_and_accuracy_follows_the_shapes_as_keras_3() -> None:
    pred = torch.tensor([[0.9, 0.8, 0.1], [0.2, 0.7, 0.6]])
    true = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert _accumulate(get_metric("binary_accuracy"), [(pred, true)]) == pytest.approx(5 / 6)
    # Keras 3's compile_utils.get_metric picks 'accuracy' from the shapes, whatever the loss: (B, 3)
    # predictions against (B, 3) targets are categorical (argmax), multi-label or not
    assert _accumulate(get_metric("accuracy"), [(pred, true)]) == pytest.approx(1 / 2)


def test_binary_accuracy_of_a_multi_label_model_survives_a_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 2), dtype=np.float32), (rng.random((64, 3)) > 0.5).astype(np.float32)
    model = Sequential([Dense(3, activation="sigmoid", input_shape=(2,))])
    model.compile("adam", "binary_crossentropy", metrics=["binary_accuracy"])
    expected = float(((model.predict(x) > 0.5) == (y > 0.5)).mean())
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(expected)
    model.save(tmp_path / "multi_label.lstmkit")
    assert load_model(tmp_path / "multi_label.lstmkit").evaluate(x, y, verbose=0)[1] == pytest.approx(
        expected
    )


@pytest.mark.parametrize(
    ("make", "probabilities", "targets"),
    [
        (BinaryCrossentropy, torch.sigmoid, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])),
        (CategoricalCrossentropy, lambda z: z.softmax(-1), torch.eye(3)[[0, 2, 1]][:, :2].softmax(-1)),
        (SparseCategoricalCrossentropy, lambda z: z.softmax(-1), torch.tensor([1, 0, 1])),
    ],
    ids=["binary", "categorical", "sparse"],
)
def test_losses_from_logits_equal_the_loss_of_the_probabilities_and_stay_finite(
    make: object, probabilities: object, targets: torch.Tensor
) -> None:
    assert callable(make) and callable(probabilities)
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.1], [-0.7, 0.4]], dtype=torch.float64)
    on_logits, on_probabilities = LOSSES[make(from_logits=True)], LOSSES[make()]
    torch.testing.assert_close(on_logits(logits, targets), on_probabilities(probabilities(logits), targets))
    # where the probabilities round to 0 or 1, the logits' form keeps the true (large) loss
    far = on_logits(logits * 200, targets)
    assert bool(torch.isfinite(far).all()) and float(far.max()) > 100


def test_from_logits_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="from_logits must be True or False, got str 'yes'"):
        BinaryCrossentropy(from_logits="yes")  # type: ignore[arg-type]


def test_a_model_on_logits_scores_its_metrics_on_the_probabilities(tmp_path: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = (x[:, :1] > 0.2).float()
    model = Sequential([Dense(1, input_shape=(3,))])  # no sigmoid: the output is a logit
    model.compile(loss=BinaryCrossentropy(from_logits=True), optimizer="adam", metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    logits = model.predict(x, verbose=0)
    expected_loss = float(F.binary_cross_entropy_with_logits(torch.as_tensor(logits), y))
    # Keras would threshold the logits at 0.5; the probability's 0.5 is the logit's 0
    expected_accuracy = float(((torch.as_tensor(logits) > 0) == (y > 0.5)).float().mean())
    assert loss == pytest.approx(expected_loss, rel=1e-5) and accuracy == pytest.approx(expected_accuracy)
    assert expected_accuracy != pytest.approx(
        float(((torch.as_tensor(logits) > 0.5) == (y > 0.5)).float().mean())
    )
    model.save(tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.loss_name == "binary_crossentropy_from_logits"
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx([loss, accuracy])


def test_only_lstmkits_own_logit_losses_turn_the_metrics_to_probabilities() -> None:
    def binary_crossentropy_from_logits(y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        return ((y_pred - y_true) ** 2).flatten(1).mean(1)  # the user's, on probabilities: same name only

    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(loss=binary_crossentropy_from_logits, metrics=["accuracy"])
    assert model.loss_name == "binary_crossentropy_from_logits" and model.metric_inputs is None
    model.compile(loss=BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    assert model.metric_inputs is torch.sigmoid
