from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lstmkit.classify.classifier import TimeSeriesClassifier
from lstmkit.classify.csv_format import read_series_csv
from lstmkit.classify.training import FitConfig
from lstmkit.classify.ts_format import read_ts
from lstmkit.utils.serialization import load_bundle, save_bundle

SMALL_FCN = {"hidden_size": 4, "filters": (8, 16, 8)}


@pytest.fixture
def ts_subset(shared_data: Path, tmp_path: Path) -> Callable[[str, str, int], Path]:
    """``ts_subset("GunPoint", "TRAIN", 20)``: a .ts file with the header and 20 random cases."""

    def make(name: str, split: str, n: int) -> Path:
        lines = (shared_data / "tsc" / f"{name}_{split}.ts").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
        cases = [line for line in lines[start:] if line.strip()]
        random.Random(0).shuffle(cases)
        target = tmp_path / f"{name}_{split}_{n}.ts"
        target.write_text("\n".join([*lines[:start], *cases[:n]]) + "\n")
        return target

    return make


def quick(model: str = "lstm-fcn", epochs: int = 15, **options: object) -> TimeSeriesClassifier:
    opts = dict(SMALL_FCN) if model == "lstm-fcn" else {"hidden_size": 8, "num_layers": 1}
    opts.update(options)
    return TimeSeriesClassifier(model, fit_config=FitConfig(epochs=epochs, batch_size=8), model_options=opts)


def test_learns_italy_power_demand_beyond_the_majority(ts_subset: Callable[[str, str, int], Path]) -> None:
    train = read_ts(ts_subset("ItalyPowerDemand", "TRAIN", 67))
    test = read_ts(ts_subset("ItalyPowerDemand", "TEST", 200))
    report = quick().fit(train).evaluate(test)
    assert test.labels is not None
    majority = max(np.mean(test.labels == c) for c in set(test.labels))
    assert report.accuracy > majority + 0.2
    assert report.confusion.sum() == 200
    assert report.labels == [1, 2]  # .ts labels are typed as a CSV reader types them


def test_save_load_round_trip_keeps_predictions_and_labels(
    ts_subset: Callable[[str, str, int], Path], tmp_path: Path
) -> None:
    train = read_ts(ts_subset("JapaneseVowels", "TRAIN", 40))  # 12 channels, unequal lengths
    clf = quick("lstm", epochs=2).fit(train)
    path = tmp_path / "model.safetensors"
    clf.save(path)
    loaded = TimeSeriesClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(train), clf.predict_proba(train), rtol=1e-5, atol=1e-6)
    assert loaded.classes == clf.classes
    assert loaded.config()["normalization"] == "auto" and loaded.channel_mean is not None


def test_saved_model_keeps_the_csv_columns(tmp_path: Path) -> None:
    rows = [
        f"{k},{t},{t * (1 if k % 2 else -1)},{'up' if k % 2 else 'down'}" for k in range(6) for t in range(5)
    ]
    data = tmp_path / "long.csv"
    data.write_text("sid,step,v,target\n" + "\n".join(rows) + "\n")
    clf = quick("lstm", epochs=1).fit(
        read_series_csv(data, label_column="target", id_column="sid", time_column="step")
    )
    path = tmp_path / "model.safetensors"
    clf.save(path)
    loaded = TimeSeriesClassifier.load(path)
    assert loaded.csv_columns == {"label_column": "target", "id_column": "sid", "time_column": "step"}
    assert loaded.value_columns == ("v",) and loaded.n_channels == 1


def test_a_model_saved_before_csv_columns_still_loads(tmp_path: Path) -> None:
    x = [np.arange(6.0) * (1 + k % 2) for k in range(6)]
    path = tmp_path / "model.safetensors"
    quick("lstm", epochs=1).fit(x, ["a", "b"] * 3).save(path)
    tensors, config = load_bundle(path)
    del config["csv_columns"], config["value_columns"]
    save_bundle(path, tensors, config)
    loaded = TimeSeriesClassifier.load(path)
    assert loaded.csv_columns == {} and loaded.value_columns == ()
    assert len(loaded.predict(x)) == 6


def test_a_model_with_text_classes_scores_the_same_classes_typed(tmp_path: Path) -> None:
    # models trained on .ts files before their labels were typed have the classes "1", "2"
    x = [np.arange(8.0) * (1 if k % 2 else -1) for k in range(8)]
    labels = [2 if k % 2 else 1 for k in range(8)]
    path = tmp_path / "model.safetensors"
    clf = quick("lstm", epochs=1).fit(x, labels)
    expected = clf.evaluate(x, labels)
    clf.save(path)
    tensors, config = load_bundle(path)
    config["classes"] = ["1", "2"]
    save_bundle(path, tensors, config)
    old = TimeSeriesClassifier.load(path)
    report = old.evaluate(x, labels)
    assert report.unseen == [] and report.labels == ["1", "2"]
    assert report.accuracy == expected.accuracy
    np.testing.assert_array_equal(report.confusion, expected.confusion)
    with pytest.warns(UserWarning, match="class\\(es\\) \\['3'\\] never seen in training"):
        with_unseen = old.evaluate(x[:3], [1, 2, 3])
    assert with_unseen.labels == ["1", "2", "3"]


def test_seeds_may_be_zero_or_numpy_integers() -> None:
    clf = TimeSeriesClassifier("lstm", seed=np.int64(3))  # type: ignore[arg-type]
    assert type(clf.seed) is int and clf.seed == 3
    assert TimeSeriesClassifier("lstm", seed=0).seed == 0


def test_a_seed_out_of_range_is_refused_at_once(bad_seed: tuple[object, type[Exception], str]) -> None:
    seed, error, message = bad_seed
    with pytest.raises(error, match=re.escape(message)):
        TimeSeriesClassifier("lstm", seed=seed)  # type: ignore[arg-type]


def test_labels_of_any_type_come_back_unchanged() -> None:
    rng = np.random.default_rng(0)
    x = [rng.normal(size=12) for _ in range(8)]
    clf = quick("lstm", epochs=1).fit(x, [True, False] * 4)
    assert set(clf.predict(x)) <= {True, False}
    assert clf.classes == [False, True]


def test_channel_mismatch_at_prediction(ts_subset: Callable[[str, str, int], Path]) -> None:
    clf = quick("lstm", epochs=1).fit(read_ts(ts_subset("ItalyPowerDemand", "TRAIN", 10)))
    with pytest.raises(ValueError, match="has 12 channel\\(s\\), but this model was trained on 1"):
        clf.predict(read_ts(ts_subset("JapaneseVowels", "TEST", 3)))


def test_unseen_test_class_is_reported(ts_subset: Callable[[str, str, int], Path]) -> None:
    train = read_ts(ts_subset("ItalyPowerDemand", "TRAIN", 10))
    clf = quick("lstm", epochs=1).fit(train)
    test = train.series[:4]
    with pytest.warns(UserWarning, match="class\\(es\\) \\[3\\] never seen in training \\(2 example"):
        report = clf.evaluate(test, [1, 2, 3, 3])
    assert report.unseen == [3]
    assert report.confusion.shape == (3, 3)
    assert report.accuracy <= 0.5


def test_missing_values_are_filled_with_a_warning() -> None:
    rng = np.random.default_rng(1)
    x = [rng.normal(size=10) for _ in range(6)]
    x[0][3] = np.nan
    with pytest.warns(UserWarning, match="1 missing value\\(s\\) filled by linear interpolation"):
        quick("lstm", epochs=1).fit(x, ["a", "b"] * 3)


@pytest.mark.parametrize(
    ("data", "labels", "error", "message"),
    [
        pytest.param([np.ones(4)] * 2, ["a", "a"], ValueError, "a single class", id="one-class"),
        pytest.param([np.ones(4)] * 2, [1, "b"], ValueError, "labels mix types", id="mixed-labels"),
        pytest.param([np.ones(4)] * 2, ["a"], ValueError, "2 series but 1 labels", id="count"),
        pytest.param(
            [np.ones(4)] * 3, [0.0, np.nan, 1.0], ValueError, "labels\\[1\\] is missing", id="missing-label"
        ),
        pytest.param([], [], ValueError, "data is empty", id="empty"),
        pytest.param(
            [np.ones((2, 2)), np.ones((2, 3))], ["a", "b"], ValueError, "mixes series", id="channels"
        ),
        pytest.param([np.array([1.0, np.inf])] * 2, ["a", "b"], ValueError, "infinite values", id="inf"),
        pytest.param(np.ones((2, 3, 4, 5)), ["a", "b"], ValueError, "shape \\(N, T\\) or", id="ndim"),
        pytest.param("series.ts", ["a"], TypeError, "got str", id="type"),
        pytest.param([np.ones(4)] * 2, "ab", TypeError, "got a single str 'ab'", id="labels-str"),
        pytest.param(
            [np.array(["1", "x"])] * 2,
            ["a", "b"],
            TypeError,
            "data\\[0\\] must be a \\(T,\\)",
            id="text-values",
        ),
    ],
)
def test_bad_training_input(data: object, labels: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        quick("lstm", epochs=1).fit(data, labels)  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [1, 3], ids=["fewer-labels", "more-labels"])
def test_validation_needs_one_label_per_series(count: int) -> None:
    x = [np.arange(6.0) + i for i in range(4)]
    with pytest.raises(ValueError, match=f"validation: got 2 series but {count} labels; expected one label"):
        quick("lstm", epochs=1).fit(x, ["a", "b"] * 2, validation=(x[:2], ["a", "b", "a"][:count]))


def test_seed_drives_the_batch_order_unless_the_fit_config_sets_one() -> None:
    rng = np.random.default_rng(0)
    x, labels = [rng.normal(size=5) for _ in range(8)], ["a", "b"] * 4

    def losses(seed: int, batch_seed: int | None) -> list[float]:
        config = FitConfig(epochs=2, batch_size=2, seed=batch_seed)
        clf = TimeSeriesClassifier("lstm", fit_config=config, model_options={"hidden_size": 4}, seed=seed)
        return [epoch["loss"] for epoch in clf.fit(x, labels).history]

    assert losses(1, None) == losses(1, 1)
    assert losses(1, None) != losses(1, 0)


def test_unknown_options_and_unfitted_use() -> None:
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        TimeSeriesClassifier("gru")
    with pytest.raises(ValueError, match="not fitted yet"):
        TimeSeriesClassifier().predict([np.ones(3)])


def test_loading_a_model_of_another_kind(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_bundle(path, {}, {"kind": "forecaster"})
    with pytest.raises(ValueError, match="kind 'forecaster', expected 'tsc_classifier'"):
        TimeSeriesClassifier.load(path)
