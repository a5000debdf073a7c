from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lstmkit.classify.training import FitConfig
from lstmkit.datasets.text import load_uci_sentiment
from lstmkit.text.classifier import TextClassifier
from lstmkit.text.tokenizer import Tokenizer
from lstmkit.utils.serialization import load_bundle, save_bundle

SMALL = {"embedding_dim": 16, "hidden_size": 16, "dropout": 0.2}


def quick(epochs: int = 1, **kwargs: object) -> TextClassifier:
    return TextClassifier(
        min_freq=1,
        model_options=SMALL,
        fit_config=FitConfig(epochs=epochs, batch_size=16, learning_rate=5e-3, patience=3),
        **kwargs,  # type: ignore[arg-type]
    )


def test_learns_yelp_sentiment_beyond_the_majority() -> None:
    frame = load_uci_sentiment("yelp").sample(frac=1.0, random_state=0)
    train, test = frame.iloc[:800], frame.iloc[800:]
    clf = quick(epochs=6).fit(
        train.text.tolist()[:700],
        train.label.tolist()[:700],
        validation=(train.text.tolist()[700:], train.label.tolist()[700:]),
    )
    report = clf.evaluate(test.text.tolist(), test.label.tolist())
    assert report.accuracy > 0.65  # balanced classes: the majority scores about 0.5
    assert report.confusion.sum() == 200
    assert clf.classes == [0, 1]


def test_save_load_round_trip_keeps_vocabulary_and_predictions(tmp_path: Path) -> None:
    texts = ["a great film", "truly awful", "great acting", "awful plot"] * 3
    clf = quick().fit(texts, ["pos", "neg", "pos", "neg"] * 3)
    path = tmp_path / "text.safetensors"
    clf.save(path)
    loaded = TextClassifier.load(path)
    assert loaded.vocabulary is not None and clf.vocabulary is not None
    assert loaded.vocabulary.tokens == clf.vocabulary.tokens
    probe = ["great plot", "unknown words only zzz"]
    np.testing.assert_allclose(loaded.predict_proba(probe), clf.predict_proba(probe), rtol=1e-5, atol=1e-6)
    assert loaded.predict(probe) == clf.predict(probe)


def test_text_column_is_saved_and_old_files_without_it_load(tmp_path: Path) -> None:
    clf = quick().fit(["good", "bad"] * 4, [1, 0] * 4)
    assert clf.text_column is None  # recorded by whoever reads the training file, not by fit
    clf.text_column = "review"
    path = tmp_path / "text.safetensors"
    clf.save(path)
    assert TextClassifier.load(path).text_column == "review"
    tensors, config = load_bundle(path)
    del config["text_column"]
    save_bundle(path, tensors, config)
    assert TextClassifier.load(path).text_column is None


def test_seed_may_be_zero_or_a_numpy_integer() -> None:
    assert type(quick(seed=np.int64(2)).seed) is int
    assert quick(seed=0).seed == 0


def test_a_seed_out_of_range_is_refused_at_once(bad_seed: tuple[object, type[Exception], str]) -> None:
    seed, error, message = bad_seed
    with pytest.raises(error, match=re.escape(message)):
        quick(seed=seed)


def test_empty_texts_are_skipped_in_training_and_refused_in_prediction() -> None:
    texts = ["good", "bad", "  ", "fine", "poor"]
    with pytest.warns(
        UserWarning, match="1 text\\(s\\) are empty after tokenization and were skipped \\(rows \\[2\\]"
    ):
        clf = quick().fit(texts, [1, 0, 1, 1, 0])
    with pytest.raises(ValueError, match="texts\\[1\\] \\(''\\) is empty after tokenization"):
        clf.predict(["good", ""])


def test_pretrained_vectors_initialize_the_embedding(tmp_path: Path) -> None:
    vectors = tmp_path / "glove.txt"
    vectors.write_text("good 0.5 0.5 0.5\nbad -0.5 -0.5 -0.5\n")
    clf = TextClassifier(
        vectors=vectors, model_options={"hidden_size": 4}, fit_config=FitConfig(epochs=1, learning_rate=1e-9)
    ).fit(["good", "bad"] * 2, [1, 0] * 2)
    assert clf.vectors_found == 2 and clf.module is not None and clf.vocabulary is not None
    row = clf.vocabulary.encode(["good"])[0]
    np.testing.assert_allclose(clf.module.embedding.weight[row].detach().numpy(), 0.5, atol=1e-6)


@pytest.mark.parametrize(
    ("texts", "labels", "error", "message"),
    [
        pytest.param("one text", [1], TypeError, "got a single str", id="str"),
        pytest.param(["a", 5], [1, 0], TypeError, "texts\\[1\\] must be a str, got int", id="not-str"),
        pytest.param([], [], ValueError, "texts is empty", id="empty"),
        pytest.param(["a", "b"], [1], ValueError, "2 texts but 1 labels", id="count"),
        pytest.param(["a", "b"], [1, 1], ValueError, "a single class", id="one-class"),
        pytest.param(["a", "b"], [1, "x"], ValueError, "labels mix types", id="mixed"),
        pytest.param(
            ["a", "b", "c"], [1.0, np.nan, 0.0], ValueError, "labels\\[1\\] is missing", id="nan-label"
        ),
        pytest.param(["  ", "b", "c"], [1, None, 0], ValueError, "labels\\[1\\] is missing", id="none-label"),
        pytest.param(
            ["a", "b"], "ab", TypeError, "labels must be a sequence of class labels", id="labels-str"
        ),
    ],
)
def test_bad_training_input(texts: object, labels: list, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        quick().fit(texts, labels)  # type: ignore[arg-type]


def test_all_texts_empty_is_an_error() -> None:
    clf = TextClassifier(Tokenizer(punctuation="drop"), fit_config=FitConfig(epochs=1))
    with pytest.warns(UserWarning, match="2 text"), pytest.raises(ValueError, match="every text is empty"):
        clf.fit(["", "?!"], [1, 0])


def test_unseen_validation_class_is_an_error() -> None:
    with pytest.raises(ValueError, match="validation labels include class\\(es\\) \\[2\\] never seen"):
        quick().fit(["good", "bad"], [1, 0], validation=(["meh"], [2]))


def test_validation_and_evaluation_need_one_label_per_text() -> None:
    for v_texts, v_labels in [
        (["good", "bad"], [1]),
        (["good", "bad"], [1, 0, 1]),
        (["good", " ", "bad"], [1]),
    ]:
        with pytest.raises(
            ValueError, match=f"validation: got {len(v_texts)} texts but {len(v_labels)} labels"
        ):
            quick().fit(["good", "bad"], [1, 0], validation=(v_texts, v_labels))
    clf = quick().fit(["good", "bad"], [1, 0])
    with pytest.raises(ValueError, match="got 3 texts but 1 labels; expected one label per text"):
        clf.evaluate(["good", "  ", "bad"], [1])


def test_seed_drives_the_batch_order_unless_the_fit_config_sets_one() -> None:
    texts, labels = ["good fun", "great film", "bad plot", "awful acting"] * 2, [1, 1, 0, 0] * 2

    def losses(seed: int, batch_seed: int | None) -> list[float]:
        config = FitConfig(epochs=2, batch_size=2, seed=batch_seed)
        clf = TextClassifier(min_freq=1, model_options=SMALL, fit_config=config, seed=seed)
        return [epoch["loss"] for epoch in clf.fit(texts, labels).history]

    assert losses(1, None) == losses(1, 1)
    assert losses(1, None) != losses(1, 0)


def test_loading_another_kind(tmp_path: Path) -> None:
    save_bundle(tmp_path / "m.safetensors", {}, {"kind": "tsc_classifier"})
    with pytest.raises(ValueError, match="kind 'tsc_classifier', expected 'text_classifier'"):
        TextClassifier.load(tmp_path / "m.safetensors")
