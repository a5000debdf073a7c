from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from lstmkit.classify.ts_format import read_ts
from lstmkit.cli import cli


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
    assert "lstmkit: warning: the test labels include class(es) ['3'] never seen in training" in stderr
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
