from __future__ import annotations

import errno
import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lstmkit.classify.ts_format import read_ts
from lstmkit.cli import cli
from lstmkit.utils.serialization import load_bundle, save_bundle

MODEL = "model.safetensors"


def subset(shared_data: Path, tmp_path: Path, name: str, split: str, n: int) -> Path:
    """A .ts file with the header of ``name``'s ``split`` and ``n`` random cases."""
    lines = (shared_data / "tsc" / f"{name}_{split}.ts").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    cases = [line for line in lines[start:] if line.strip()]
    random.Random(0).shuffle(cases)
    target = tmp_path / f"{name}_{split}.ts"
    target.write_text("\n".join([*lines[:start], *cases[:n]]) + "\n")
    return target


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("model", ["lstm", "lstm-fcn"])
def test_classify_reports_baselines_and_writes_metrics_and_model(
    shared_data: Path, tmp_path: Path, model: str
) -> None:
    train = subset(shared_data, tmp_path, "ItalyPowerDemand", "TRAIN", 30)
    test = subset(shared_data, tmp_path, "ItalyPowerDemand", "TEST", 40)
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "classify", train, test, "--model", model, "--epochs", "3", "--hidden-size", "4", "--out", out
    )
    assert code == 0, stderr
    assert "ItalyPowerDemand: 30 train / 40 test series, 1 channel(s), length 24, 2 classes" in stdout
    assert "1-NN DTW        accuracy" in stdout and "majority class  accuracy" in stdout
    assert "confusion matrix" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "baselines"} <= set(metrics)
    assert set(metrics["baselines"]) == {"dtw_1nn_accuracy", "majority_accuracy"}
    assert 0.0 <= metrics["accuracy"] <= 1.0 and sum(map(sum, metrics["confusion_matrix"])) == 40

    code, stdout, stderr = run("predict", out / "model.safetensors", test)
    assert code == 0, stderr
    rows = stdout.strip().splitlines()
    assert rows[0] == "index,label,p_1,p_2"
    assert len(rows) == 1 + 40 + 1  # header, one row per series, the accuracy line
    assert rows[-1].startswith("accuracy ") and rows[-1].endswith("on 40 labelled series")


def test_multivariate_unequal_length_and_channel_mismatch(shared_data: Path, tmp_path: Path) -> None:
    train = subset(shared_data, tmp_path, "JapaneseVowels", "TRAIN", 20)
    test = subset(shared_data, tmp_path, "JapaneseVowels", "TEST", 10)
    out = tmp_path / "jv"
    code, stdout, stderr = run("classify", train, test, "--model", "lstm", "--epochs", "1", "--out", out)
    assert code == 0, stderr
    assert "20 train / 10 test series, 12 channel(s), length 10-22," in stdout
    other = subset(shared_data, tmp_path, "GunPoint", "TEST", 3)
    code, _, stderr = run("predict", out / "model.safetensors", other)
    assert code == 2
    assert "has 1 channel(s), but this model was trained on 12" in stderr
    code, _, stderr = run("classify", train, other, "--epochs", "1")
    assert code == 2 and "TRAIN has 12 channel(s) but TEST has 1" in stderr


def test_unseen_test_class_is_a_warning(shared_data: Path, tmp_path: Path) -> None:
    train = subset(shared_data, tmp_path, "ItalyPowerDemand", "TRAIN", 12)
    lines = train.read_text().splitlines()
    lines = [line.replace("@classLabel true 1 2", "@classLabel true 1 2 3") for line in lines]
    lines[-1] = lines[-1].rsplit(":", 1)[0] + ":3"
    test = tmp_path / "test_with_new_class.ts"
    test.write_text("\n".join(lines) + "\n")
    code, stdout, stderr = run("classify", train, test, "--model", "lstm", "--epochs", "1", "--no-dtw")
    assert code == 0, stderr
    assert "lstmkit: warning: the test labels include class(es) [3] never seen in training" in stderr
    assert "1-NN DTW        accuracy skipped" in stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("", "is empty; expected a .ts file", id="empty"),
        pytest.param(
            "@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n", "@univariate true", id="lie"
        ),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.ts"
    bad.write_text(content)
    code, stdout, stderr = run("classify", bad, bad)
    assert code == 2
    assert stderr.startswith("lstmkit: error: ") and message in stderr
    assert "Traceback" not in stderr + stdout


def test_unsupported_extension(tmp_path: Path) -> None:
    bad = tmp_path / "data.arff"
    bad.write_text("x")
    code, _, stderr = run("classify", bad, bad)
    assert code == 2 and "expected a UCR/UEA .ts file or a .csv file" in stderr


def test_wide_csv_input(shared_data: Path, tmp_path: Path) -> None:
    def to_csv(split: str, n: int) -> Path:
        data = read_ts(subset(shared_data, tmp_path, "ItalyPowerDemand", split, n))
        assert data.labels is not None
        rows = [
            ",".join(f"{v:g}" for v in s[:, 0]) + f",{label}"
            for s, label in zip(data.series, data.labels, strict=True)
        ]
        path = tmp_path / f"{split}.csv"
        path.write_text(",".join(f"t{i}" for i in range(24)) + ",label\n" + "\n".join(rows) + "\n")
        return path

    code, stdout, stderr = run(
        "classify", to_csv("TRAIN", 12), to_csv("TEST", 8), "--model", "lstm", "--epochs", "1"
    )
    assert code == 0, stderr
    assert "12 train / 8 test series, 1 channel(s), length 24, 2 classes" in stdout


def toy_series(n: int = 12, length: int = 8) -> list[tuple[list[float], int]]:
    """``n`` series of two classes (rising, falling), labelled 1 and 2."""
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        label = 1 + k % 2
        values = (np.arange(length) * (1 if label == 1 else -1) + rng.normal(0, 0.1, length)).tolist()
        out.append((values, label))
    return out


def write_wide(
    path: Path, label_column: str | None, n: int = 12, lengths: tuple[int, ...] = (8,), bom: bool = False
) -> Path:
    """A wide CSV of ``toy_series``, cut to ``lengths`` in turn (empty cells end the shorter series)."""
    width = max(lengths)
    rows = []
    for k, (values, label) in enumerate(toy_series(n, width)):
        cells = [f"{v:.3f}" for v in values[: lengths[k % len(lengths)]]]
        cells += [""] * (width - len(cells))
        rows.append(",".join(cells) + ("" if label_column is None else f",{label}"))
    header = ",".join(f"t{i}" for i in range(width)) + ("" if label_column is None else f",{label_column}")
    text = header + "\n" + "\n".join(rows) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def write_long(path: Path, id_column: str = "id", bom: bool = False) -> Path:
    rows = [
        f"{k},{t},{v:.3f},{label}"
        for k, (values, label) in enumerate(toy_series())
        for t, v in reversed(list(enumerate(values)))  # time order comes from the time column
    ]
    text = f"{id_column},t,v,label\n" + "\n".join(rows) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def train_toy(train: Path, out: Path, *options: str) -> None:
    args = ("--model", "lstm", "--epochs", "1", "--hidden-size", "4", "--no-dtw", "--out", out)
    code, _, stderr = run("classify", train, train, *args, *options)
    assert code == 0, stderr


def test_predict_reads_the_label_column_the_model_was_trained_with(tmp_path: Path) -> None:
    data = write_wide(tmp_path / "data.csv", "target")
    train_toy(data, tmp_path / "out", "--label-column", "target")
    code, stdout, stderr = run("predict", tmp_path / "out" / MODEL, data)
    assert code == 0, stderr
    rows = stdout.strip().splitlines()
    assert rows[0] == "index,label,p_1,p_2" and len(rows) == 1 + 12 + 1
    assert rows[-1].startswith("accuracy ") and rows[-1].endswith("on 12 labelled series")


def test_predict_reads_the_long_layout_the_model_was_trained_with(tmp_path: Path) -> None:
    data = write_long(tmp_path / "long.csv")
    train_toy(data, tmp_path / "out", "--id-column", "id", "--time-column", "t")
    code, stdout, stderr = run("predict", tmp_path / "out" / MODEL, data)
    assert code == 0, stderr
    rows = stdout.strip().splitlines()
    assert len(rows) == 1 + 12 + 1 and rows[-1].endswith("on 12 labelled series")  # one row per id


@pytest.mark.parametrize(
    ("training", "data", "message"),
    [
        pytest.param(
            ("--label-column", "target"),
            lambda d: write_wide(d / "other.csv", "label"),
            "'{d}/other.csv' column 'label' would be read as time step 8, beyond the 8 steps of the training "
            "file's series; give the columns of the training file in its order: the time steps 't0', 't1', "
            "'t2', ..., 't7' (fewer for shorter series; more only where they are numbered) and, optionally, "
            "the label column 'target'",
            id="label-read-as-a-step",
        ),
        pytest.param(
            ("--id-column", "id", "--time-column", "t"),
            lambda d: write_long(d / "other.csv", id_column="series"),
            "id_column='id' is not a column of '{d}/other.csv'; columns: ['series', 't', 'v', 'label']",
            id="long-without-id",
        ),
    ],
)
def test_predict_refuses_data_in_another_layout(
    tmp_path: Path, training: tuple[str, ...], data: Callable[[Path], Path], message: str
) -> None:
    train = (
        write_wide(tmp_path / "train.csv", "target")
        if "target" in training
        else write_long(tmp_path / "l.csv")
    )
    train_toy(train, tmp_path / "out", *training)
    code, stdout, stderr = run("predict", tmp_path / "out" / MODEL, data(tmp_path))
    assert code == 2 and stderr.startswith("lstmkit: error: ")
    assert message.format(d=tmp_path) in stderr and "Traceback" not in stderr + stdout


def test_ts_training_and_csv_test_files_share_their_classes(tmp_path: Path) -> None:
    series = toy_series()
    ts = tmp_path / "train.ts"
    ts.write_text(
        "@problemName Toy\n@univariate true\n@classLabel true 1 2\n@data\n"
        + "\n".join(",".join(f"{v:.3f}" for v in values) + f":{label}" for values, label in series)
        + "\n"
    )
    csv = write_wide(tmp_path / "test.csv", "label")
    code, _, stderr = run(
        "classify", ts, csv, "--model", "lstm", "--epochs", "1", "--hidden-size", "4", "--out", tmp_path / "o"
    )
    assert code == 0, stderr
    assert "never seen in training" not in stderr
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["labels"] == [1, 2] and metrics["unseen_test_classes"] == []
    assert sum(map(sum, metrics["confusion_matrix"])) == 12


def test_predict_scores_text_labels_of_a_model_saved_before_ts_labels_were_typed(tmp_path: Path) -> None:
    data = write_wide(tmp_path / "data.csv", "label")
    train_toy(data, tmp_path / "out")
    model = tmp_path / "out" / MODEL
    code, stdout, stderr = run("predict", model, data)
    assert code == 0, stderr
    expected = stdout.strip().splitlines()[-1]
    assert expected.startswith("accuracy ")
    tensors, config = load_bundle(model)
    config["classes"] = ["1", "2"]  # as a .ts file's labels were saved before
    del config["csv_columns"], config["value_columns"]
    save_bundle(model, tensors, config)
    code, stdout, stderr = run("predict", model, data)
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1] == expected


def test_predict_reads_series_of_other_lengths_but_no_column_in_another_role(tmp_path: Path) -> None:
    train = write_wide(tmp_path / "train.csv", "target", lengths=(6, 7, 8, 9))  # variable lengths
    train_toy(train, tmp_path / "out", "--label-column", "target")
    model = tmp_path / "out" / MODEL
    for name, lengths, label in (("short", (6,), "target"), ("long", (11,), None), ("mixed", (5, 9), None)):
        code, stdout, stderr = run(
            "predict", model, write_wide(tmp_path / f"{name}.csv", label, n=4, lengths=lengths)
        )
        assert code == 0, stderr
        assert len(stdout.strip().splitlines()) == 1 + 4 + (label is not None)
    renamed = write_wide(tmp_path / "renamed.csv", "label", n=4, lengths=(6, 7, 8, 9))
    code, _, stderr = run("predict", model, renamed)
    assert code == 2 and "Traceback" not in stderr
    assert f"'{renamed}' column 'label' would be read as time step 9, beyond the 9 steps" in stderr


def test_predict_reads_shorter_series_than_the_equal_length_training_series(tmp_path: Path) -> None:
    train_toy(write_wide(tmp_path / "train.csv", "label"), tmp_path / "out")  # every series has 8 steps
    data = write_wide(tmp_path / "short.csv", "label", n=4, lengths=(6,))
    code, stdout, stderr = run("predict", tmp_path / "out" / MODEL, data)
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1].endswith("on 4 labelled series")


def test_predict_refuses_channels_other_than_the_training_file_s(tmp_path: Path) -> None:
    train_toy(write_long(tmp_path / "long.csv"), tmp_path / "out", "--id-column", "id", "--time-column", "t")
    other = tmp_path / "other.csv"
    other.write_text("id,t,w,label\n0,0,1.0,1\n0,1,2.0,1\n")
    code, _, stderr = run("predict", tmp_path / "out" / MODEL, other)
    assert code == 2
    assert f"'{other}' has the channel columns ['w'], but the model was trained on ['v']" in stderr


@pytest.mark.parametrize(
    ("write", "options"),
    [
        pytest.param(
            lambda path, bom: write_wide(path, "target", bom=bom), ("--label-column", "target"), id="wide"
        ),
        pytest.param(
            lambda path, bom: write_long(path, bom=bom),
            ("--id-column", "id", "--time-column", "t"),
            id="long",
        ),
    ],
)
def test_predict_reads_a_csv_that_starts_with_a_byte_order_mark(
    tmp_path: Path, write: Callable[[Path, bool], Path], options: tuple[str, ...]
) -> None:
    train_toy(write(tmp_path / "train.csv", False), tmp_path / "out", *options)
    code, stdout, stderr = run("predict", tmp_path / "out" / MODEL, write(tmp_path / "bom.csv", True))
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1].endswith("on 12 labelled series")


def test_infinite_test_values_are_refused_before_training(tmp_path: Path) -> None:
    train = write_wide(tmp_path / "train.csv", "label")
    test = write_wide(tmp_path / "test.csv", "label")
    lines = test.read_text().splitlines()
    lines[3] = "inf," + lines[3].split(",", 1)[1]  # series 2 (the third data row)
    test.write_text("\n".join(lines) + "\n")
    code, stdout, stderr = run("classify", train, test, "--model", "lstm", "--epochs", "1", "--no-dtw")
    assert code == 2
    assert stderr == (
        f"lstmkit: error: TEST '{test}'[2] contains infinite values; expected finite numbers or NaN "
        f"(missing)\n"
    )
    assert stdout == ""  # no summary line: nothing was trained


def test_predict_out_that_cannot_be_written_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmkit.utils import serialization

    data = write_wide(tmp_path / "data.csv", "label")
    train_toy(data, tmp_path / "out")
    target = tmp_path / "predictions.csv"

    def refused(path: Path, text: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(serialization, "atomic_write_text", refused)
    code, _, stderr = run("predict", tmp_path / "out" / MODEL, data, "--out", target)
    assert code == 2
    assert stderr == f"lstmkit: error: Permission denied: '{target}'\n"
