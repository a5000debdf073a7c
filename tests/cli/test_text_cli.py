from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from lstmkit.cli import cli
from lstmkit.datasets.text import load_uci_sentiment
from lstmkit.utils.serialization import load_bundle, save_bundle


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


SMALL = ("--epochs", "2", "--embedding-dim", "8", "--hidden-size", "8", "--batch-size", "16")


@pytest.fixture
def sentiment_csvs(tmp_path: Path) -> tuple[Path, Path]:
    frame = load_uci_sentiment("amazon").sample(n=240, random_state=0)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:200].to_csv(train, index=False)
    frame.iloc[200:].to_csv(test, index=False)
    return train, test


def test_train_reports_and_saves_then_predict(sentiment_csvs: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = sentiment_csvs
    out = tmp_path / "model"
    code, stdout, stderr = run("text", "train", train, "--test", test, *SMALL, "--out", out)
    assert code == 0, stderr
    assert "180 training texts, 20 validation texts" in stdout  # --valid-split 0.1 held out
    assert "test: accuracy" in stdout and "(majority class" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "test"
    assert {"accuracy", "macro_f1", "majority_accuracy"} <= set(metrics)
    assert metrics["test"]["n"] == 40

    code, stdout, stderr = run(
        "text", "predict", out / "model.safetensors", "Great phone!", "Broke in a day."
    )
    assert code == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 2 and "p_0=" in lines[0] and lines[0].endswith("Great phone!")

    predictions = tmp_path / "predictions.csv"
    code, _, stderr = run("text", "predict", out / "model.safetensors", test, "--out", predictions)
    assert code == 0, stderr
    frame = pd.read_csv(predictions)
    assert list(frame.columns) == ["text", "label", "p_0", "p_1"] and len(frame) == 40


def test_empty_text_in_prediction_is_an_error(sentiment_csvs: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = sentiment_csvs
    out = tmp_path / "model"
    assert run("text", "train", train, *SMALL, "--epochs", "1", "--out", out)[0] == 0
    code, _, stderr = run("text", "predict", out / "model.safetensors", "fine", "   ")
    assert code == 2
    assert "lstmkit: error: texts[1] ('   ') is empty after tokenization" in stderr


def test_predict_refuses_a_csv_name_that_is_not_a_file(
    sentiment_csvs: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = sentiment_csvs
    out = tmp_path / "model"
    assert run("text", "train", train, *SMALL, "--epochs", "1", "--out", out)[0] == 0
    missing = tmp_path / "reviews.csv"
    code, stdout, stderr = run(
        "text", "predict", out / "model.safetensors", missing, "--out", tmp_path / "p.csv"
    )
    assert code == 2 and stdout == ""
    assert stderr.strip() == (
        f"lstmkit: error: no CSV file at '{missing}'; "
        "give an existing file (or --csv FILE) to label its texts"
    )
    assert not (tmp_path / "p.csv").exists()
    code, stdout, _ = run("text", "predict", out / "model.safetensors", "I loved reviews.csv")
    assert code == 0 and stdout.strip().endswith("I loved reviews.csv")  # a sentence is still a text


def test_empty_training_text_is_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    rows = [("good", 1), ("bad", 0)] * 10 + [("", 1)]
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    code, _, stderr = run("text", "train", data, *SMALL, "--epochs", "1", "--out", tmp_path / "m")
    assert code == 0, stderr
    assert (
        f"lstmkit: warning: '{data}': 1 text(s) are empty after tokenization and were skipped (rows 21)"
        in stderr
    )


def test_empty_texts_are_named_by_their_rows_of_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    rows = [("good", 1), ("bad", 0), ("fine", 1), ("", 0), ("...", 1)] + [("good", 1), ("bad", 0)] * 20
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    code, stdout, stderr = run(
        "text", "train", data, *SMALL, "--epochs", "1", "--punctuation", "drop", "--out", tmp_path / "m"
    )
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"lstmkit: warning: '{data}': 2 text(s) are empty after tokenization and were skipped (rows 4, 5)"
    ]
    assert "39 training texts, 4 validation texts" in stdout  # the 43 texts with words, 10% held out


def test_baselines_are_scored_on_the_rows_the_model_is_scored_on(tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame([("good", 1), ("bad", 0)] * 10 + [("great", 1)], columns=["text", "label"]).to_csv(
        train, index=False
    )
    # all rows: the majority class 1 is right on 3 of 4; the rows with words: on 1 of 2
    pd.DataFrame([("good", 1), ("bad", 0), ("", 1), (" ", 1)], columns=["text", "label"]).to_csv(
        test, index=False
    )
    code, _, stderr = run(
        "text", "train", train, "--test", test, *SMALL, "--epochs", "1", "--out", tmp_path / "m"
    )
    assert code == 0, stderr
    assert f"'{test}': 2 text(s) are empty after tokenization and were skipped (rows 3, 4)" in stderr
    scored = json.loads((tmp_path / "m" / "metrics.json").read_text())["test"]
    assert scored["n"] == 2 == sum(map(sum, scored["confusion_matrix"]))
    assert scored["majority_accuracy"] == 0.5


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        pytest.param("", (), "is empty; expected a CSV", id="empty"),
        pytest.param("review,label\nok,1\n", (), "--text-column 'text' is not a column", id="column"),
        pytest.param("text,label\n" + "a,1\nb,x\n" * 5, (), "mixes numbers and text", id="mixed-labels"),
        pytest.param("text,label\n" + "a,1\n" * 10, (), "a single class", id="one-class"),
        pytest.param(
            "text,label\na,1\nb,0\n", (), "--valid-split 0.1 of 2 texts leaves no validation", id="tiny"
        ),
    ],
)
def test_bad_csv(tmp_path: Path, content: str, args: tuple[str, ...], message: str) -> None:
    data = tmp_path / "data.csv"
    data.write_text(content)
    code, _, stderr = run("text", "train", data, *SMALL, "--out", tmp_path / "m", *args)
    assert code == 2
    assert "lstmkit: error: " in stderr and message in stderr


def test_predict_reads_the_text_column_the_model_was_trained_on(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    rows = [("good fun", "pos"), ("bad plot", "neg")] * 10
    pd.DataFrame(rows, columns=["review", "stars"]).to_csv(data, index=False)
    out = tmp_path / "m"
    options = ("--text-column", "review", "--label-column", "stars", "--min-freq", "1")
    code, _, stderr = run("text", "train", data, *SMALL, *options, "--out", out)
    assert code == 0, stderr
    model = out / "model.safetensors"
    code, stdout, stderr = run("predict", model, data)
    assert code == 0, stderr
    assert len(stdout.strip().splitlines()) == 20
    code, stdout, stderr = run("text", "predict", model, "--csv", data)  # no --text-column needed
    assert code == 0, stderr
    assert len(stdout.strip().splitlines()) == 20
    other = tmp_path / "other.csv"
    other.write_text("text\ngood fun\n")
    missing = (
        f"lstmkit: error: this model reads texts from the column 'review' (its training column), but "
        f"'{other}' has no such column; columns: ['text']; rename the column or pass --text-column\n"
    )
    for command in (("predict", model, other), ("text", "predict", model, "--csv", other)):
        code, _, stderr = run(*command)
        assert code == 2 and stderr == missing, command
        code, stdout, stderr = run(*command, "--text-column", "text")  # the option the message advises
        assert code == 0 and stdout.strip().endswith("good fun"), stderr
    code, _, stderr = run("text", "predict", model, "--csv", other, "--text-column", "body")
    assert code == 2
    assert f"lstmkit: error: --text-column 'body' is not a column of '{other}'; columns: ['text']" in stderr
    _, config = load_bundle(model)
    assert config["text_column"] == "review" and "label_column" not in config  # only what predict uses


def test_predict_text_column_is_for_text_models_only(tmp_path: Path) -> None:
    model = tmp_path / "forecaster.safetensors"
    save_bundle(model, {}, {"kind": "forecaster"})
    data = tmp_path / "data.csv"
    data.write_text("text\ngood fun\n")
    code, _, stderr = run("predict", model, data, "--text-column", "text")
    assert code == 2
    assert stderr == (
        f"lstmkit: error: --text-column is for text models, and '{model}' holds a model of kind "
        f"'forecaster'; leave it out\n"
    )
