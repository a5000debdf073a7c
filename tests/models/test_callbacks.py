"""Callbacks: early stopping, LR schedule, NaN stop, CSV, checkpoints, TensorBoard files, History.plot."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.layers import Dense
from lstmkit.models import Callback, Sequential, load_model
from lstmkit.models.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)
from lstmkit.models.callbacks.tfevents import masked_crc


def _model() -> Sequential:
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    model.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return model


def _data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")


def test_early_stopping_stops_after_patience_and_restores_best_weights() -> None:
    model = _model()
    stopper = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin()
    best = None
    for epoch, val_loss in enumerate([1.0, 0.5, 0.6, 0.7]):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))
        if epoch == 1:
            best = {k: v.clone() for k, v in model.module.state_dict().items()}
        stopper.on_epoch_end(epoch, {"val_loss": val_loss})
        assert model.stop_training == (epoch == 3)
    stopper.on_train_end()
    assert stopper.best_epoch == 1 and stopper.stopped_epoch == 3
    for name, tensor in model.module.state_dict().items():
        assert torch.equal(tensor, best[name])


def _drive_early_stopping(stopper: EarlyStopping, losses: list[float]) -> tuple[float, int]:
    """Runs ``stopper`` over epochs whose weights equal the epoch index; the final weight and epochs run."""
    model = _model()
    stopper.set_model(model)
    stopper.on_train_begin()
    epochs = 0
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(epoch))
        stopper.on_epoch_end(epoch, {"loss": loss})
        epochs += 1
        if model.stop_training:
            break
    stopper.on_train_end()
    return next(model.parameters())[0, 0].item(), epochs


def test_early_stopping_restores_the_best_epoch_when_training_runs_to_the_end() -> None:
    # Keras 3: restore_best_weights acts at the end of training, not only after an early stop
    weight, epochs = _drive_early_stopping(
        EarlyStopping("loss", patience=10, restore_best_weights=True), [1.0, 0.1, 0.5]
    )
    assert (weight, epochs) == (1.0, 3)
    weight, _ = _drive_early_stopping(EarlyStopping("loss", patience=10), [1.0, 0.1, 0.5])
    assert weight == 2.0  # without it, the last epoch's weights stay


def test_early_stopping_baseline_gates_the_patience_count_not_the_best_epoch() -> None:
    # nothing beats the baseline: stop after `patience` epochs, keeping the best epoch seen (Keras 3)
    weight, epochs = _drive_early_stopping(
        EarlyStopping("loss", patience=2, baseline=0.01, restore_best_weights=True), [0.5, 0.6, 0.7, 0.8]
    )
    assert (weight, epochs) == (0.0, 2)
    # improving on the best but not on the baseline does not reset the count
    losses = [0.5, 0.4, 0.45, 0.3]
    _, epochs = _drive_early_stopping(EarlyStopping("loss", patience=2, baseline=0.01), losses)
    assert epochs == 3
    _, epochs = _drive_early_stopping(EarlyStopping("loss", patience=2), losses)
    assert epochs == 4


def test_early_stopping_in_fit_ends_training_when_nothing_improves() -> None:
    x, y = _data()
    model = _model()
    model.optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # validation loss never changes
    history = model.fit(
        x, y, epochs=20, validation_split=0.25, callbacks=[EarlyStopping(patience=2)], verbose=0
    )
    assert len(history.epoch) == 3
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="lowest")


def test_reduce_lr_on_plateau_multiplies_lr_and_logs_it() -> None:
    model = _model()
    reducer = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.03)
    reducer.set_model(model)
    reducer.on_train_begin()
    rates = []
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"loss": loss}
        reducer.on_epoch_end(epoch, logs)
        rates.append(logs["learning_rate"])
    # the rate each epoch trained with, as Keras logs it: the cut at the end of epoch 1 shows from epoch 2
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.03, 0.03])
    assert model.optimizer is not None and model.optimizer.param_groups[0]["lr"] == pytest.approx(0.03)


def test_reduce_lr_on_plateau_at_min_lr_neither_reduces_nor_cools_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _model()
    reducer = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2, min_lr=0.05)
    reducer.set_model(model)
    reducer.on_train_begin()
    assert model.optimizer is not None
    with caplog.at_level("INFO", logger="lstmkit.models.callbacks.control"):
        # epoch 1 cuts 0.1 to min_lr and cools down for 2 epochs; epoch 3 finds the rate at min_lr: as
        # Keras 3, no cut is logged and no cooldown starts, so once the rate is raised, epoch 4 cuts it
        for epoch in range(4):
            reducer.on_epoch_end(epoch, {"loss": 1.0})
        assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
        model.optimizer.param_groups[0]["lr"] = 0.2
        reducer.on_epoch_end(4, {"loss": 1.0})
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    cuts = [r.getMessage() for r in caplog.records if "learning rate now" in r.getMessage()]
    assert cuts == ["ReduceLROnPlateau: learning rate now 0.05", "ReduceLROnPlateau: learning rate now 0.1"]


def test_reduce_lr_on_plateau_does_not_raise_a_group_below_min_lr() -> None:
    model = _model()
    assert model.optimizer is not None
    model.optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.01})
    reducer = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.03)
    reducer.set_model(model)
    reducer.on_train_begin()
    for epoch in range(2):
        reducer.on_epoch_end(epoch, {"loss": 1.0})
    assert [group["lr"] for group in model.optimizer.param_groups] == pytest.approx([0.05, 0.01])


def test_terminate_on_nan_stops_at_the_first_bad_batch() -> None:
    x, y = _data()
    model = _model()
    model.compile(optimizer="sgd", loss=lambda p, t: ((p - t) ** 2).mean(dim=1) * math.inf)
    batches: list[int] = []
    history = model.fit(
        x,
        y,
        epochs=5,
        batch_size=4,
        verbose=0,
        callbacks=[TerminateOnNaN(), LambdaCallback(on_train_batch_end=lambda b, logs: batches.append(b))],
    )
    assert batches == [0] and len(history.epoch) == 1


def test_csv_logger_writes_history(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    history = model.fit(
        x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[CSVLogger(tmp_path / "log.csv")]
    )
    table = pd.read_csv(tmp_path / "log.csv")
    assert table["epoch"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["loss"], history.history["loss"])
    np.testing.assert_allclose(table["val_loss"], history.history["val_loss"])


def test_model_checkpoint_best_only_and_formatted_names(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    best = ModelCheckpoint(tmp_path / "best.lstmkit", monitor="val_loss", save_best_only=True)
    every = ModelCheckpoint(str(tmp_path / "e{epoch:02d}.lstmkit"), save_weights_only=True)
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[best, every])
    assert sorted(p.name for p in tmp_path.glob("e*.lstmkit")) == [
        "e01.lstmkit",
        "e02.lstmkit",
        "e03.lstmkit",
    ]
    best_epoch = int(np.argmin(history.history["val_loss"]))
    restored = load_model(tmp_path / "best.lstmkit")
    assert restored.evaluate(x[12:], y[12:]) == pytest.approx(
        history.history["val_loss"][best_epoch], rel=1e-5
    )
    final = model.predict(x)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    model.load_weights(tmp_path / "e03.lstmkit")
    np.testing.assert_array_equal(model.predict(x), final)


def _read_records(path: Path) -> list[bytes]:
    data, records, offset = path.read_bytes(), [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        (header_crc,) = struct.unpack_from("<I", data, offset + 8)
        assert header_crc == masked_crc(data[offset : offset + 8])
        body = data[offset + 12 : offset + 12 + length]
        (body_crc,) = struct.unpack_from("<I", data, offset + 12 + length)
        assert body_crc == masked_crc(body)
        records.append(body)
        offset += 16 + length
    return records


def test_tensorboard_writes_valid_event_records(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[TensorBoard(tmp_path)])
    (train_file,) = (tmp_path / "train").iterdir()
    records = _read_records(train_file)
    assert len(records) == 3 and b"brain.Event:2" in records[0]
    last = records[-1]
    assert b"epoch_loss" in last
    value = struct.unpack_from("<f", last, last.index(b"epoch_loss") + len(b"epoch_loss") + 1)[0]
    assert value == pytest.approx(history.history["loss"][-1], rel=1e-6)
    assert len(_read_records(next((tmp_path / "validation").iterdir()))) == 3


def test_history_plot_draws_each_metric_with_its_validation_twin(tmp_path: Path) -> None:
    x, y = _data()
    model = _model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    figure = history.plot(path=str(tmp_path / "curves.png"))
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae"]
    assert len(figure.axes[0].lines) == 2 and (tmp_path / "curves.png").stat().st_size > 0
    with pytest.raises(ValueError, match="History has no metric 'auc'"):
        history.plot(["auc"])


def test_tensorboard_files_read_back_with_tensorboard_if_installed(tmp_path: Path) -> None:
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[TensorBoard(tmp_path)])
    reader = accumulator.EventAccumulator(str(tmp_path / "validation"))
    reader.Reload()
    values = [event.value for event in reader.Scalars("epoch_loss")]
    assert values == pytest.approx(history.history["val_loss"], rel=1e-6)


def test_history_and_callbacks_get_keras_params_before_training_begins() -> None:
    seen: list[dict] = []

    class Spy(Callback):
        def on_train_begin(self, logs: dict | None = None) -> None:
            seen.append(dict(self.params))

    model = _model()
    x, y = _data()
    history = model.fit(x, y, epochs=3, batch_size=6, verbose=0, callbacks=[Spy()])
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}  # 16 samples in batches of 6
    assert seen == [history.params]


@pytest.mark.parametrize("owner", [EarlyStopping, ModelCheckpoint, ReduceLROnPlateau])
def test_auto_mode_maximizes_cosine_similarity(owner: type, tmp_path: Path) -> None:
    # Keras's cosine_similarity metric is +1 when aligned: its direction is up, as accuracy's
    args = (tmp_path / "m.lstmkit",) if owner is ModelCheckpoint else ()
    callback = owner(*args, monitor="val_cosine_similarity")
    mode = callback.mode if owner is ModelCheckpoint else callback.tracker.mode
    assert mode == "max"


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it() -> None:
    x, y = _data()
    model = _model()
    seen: list[float] = []
    spy = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: seen.append(model.optimizer.param_groups[0]["lr"])
    )
    schedule = LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr * 0.5)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[schedule, spy])
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    one_argument = model.fit(
        x, y, epochs=2, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.01 * (e + 1))]
    )
    assert one_argument.history["learning_rate"] == pytest.approx([0.01, 0.02])  # Keras's older form


def test_learning_rate_scheduler_refuses_bad_schedules() -> None:
    x, y = _data()
    with pytest.raises(TypeError, match=r"schedule must be a function, got 0\.1"):
        LearningRateScheduler(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="schedule must return a number, got 'fast' at epoch 0"):
        _model().fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: "fast")])
    with pytest.raises(ValueError, match=r"finite rate >= 0, got -0\.1 at epoch 0"):
        _model().fit(x, y, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: -lr)])
