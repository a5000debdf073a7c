"""``lstmkit gates MODEL DATA``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lstmkit.cli import cli
from lstmkit.tasks.generators import adding_problem
from lstmkit.tasks.models import SequenceNet, save_memory_net
from lstmkit.utils.serialization import save_bundle


@pytest.fixture
def model_and_data(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "lstm.safetensors"
    save_memory_net(model, SequenceNet("lstm", 2, 6, 1), task="adding", length=12)
    data = tmp_path / "adding.npy"
    np.save(data, adding_problem(3, 12, seed=0).x)
    return model, data


def test_gates_writes_figures_and_arrays(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = model_and_data
    out = tmp_path / "out"
    signal = tmp_path / "signal.npy"
    np.save(signal, np.random.default_rng(0).normal(size=(3, 12)))
    result = CliRunner().invoke(
        cli, ["gates", str(model), str(data), "--sample", "2", "--out", str(out), "--signal", str(signal)]
    )
    assert result.exit_code == 0, result.output
    assert "rnn/l0/forward" in result.output
    for name in ("gates_rnn_l0_forward.png", "forget_distribution.png", "units_rnn_l0_forward.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    with np.load(out / "gates.npz") as arrays:
        assert arrays["rnn_l0_forward/f"].shape == (3, 12, 6)
        assert arrays["rnn_l0_forward/x"].shape == (3, 12, 2)


def test_gates_reads_a_csv_sequence(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, _ = model_and_data
    csv = tmp_path / "one.csv"
    csv.write_text("date,value,marker\n" + "\n".join(f"d{t},{t / 10},{int(t in (2, 7))}" for t in range(10)))
    result = CliRunner().invoke(cli, ["gates", str(model), str(csv), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "o" / "gates.npz") as arrays:
        assert arrays["rnn_l0_forward/x"].shape == (1, 10, 2)


def test_gates_errors_are_one_line(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = model_and_data
    result = CliRunner().invoke(cli, ["gates", str(model), str(data), "--sample", "5"])
    assert result.exit_code == 2
    assert "lstmkit: error: --sample must be in [0, 3) for DATA with 3 sequence(s), got 5" in result.output
    foreign = tmp_path / "other.safetensors"
    save_bundle(foreign, {}, {"kind": "something_else"})
    result = CliRunner().invoke(cli, ["gates", str(foreign), str(data)])
    assert result.exit_code == 2 and "holds a model of kind 'something_else'" in result.output
    text = tmp_path / "data.txt"
    text.write_text("1 2 3")
    result = CliRunner().invoke(cli, ["gates", str(model), str(text)])
    assert result.exit_code == 2 and "DATA must be a .npy, .npz or .csv file, got 'data.txt'" in result.output
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 12, 5), dtype=np.float32))
    result = CliRunner().invoke(cli, ["gates", str(model), str(wrong)])
    assert (
        result.exit_code == 2
        and "the model takes 2 feature(s) per step; DATA has shape (2, 12, 5)" in result.output
    )


def test_gates_reads_a_saved_keras_face_model(tmp_path: Path) -> None:
    from lstmkit.layers import LSTM, Dense
    from lstmkit.models import Sequential

    model = Sequential([LSTM(5, input_shape=(9, 2)), Dense(1)])
    x = adding_problem(2, 9, seed=1).x
    model.predict(x)
    model.save(tmp_path / "keras.safetensors")
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "g"
    result = CliRunner().invoke(
        cli, ["gates", str(tmp_path / "keras.safetensors"), str(tmp_path / "x.npy"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with np.load(out / "gates.npz") as arrays:
        (key,) = {k.split("/")[0] for k in arrays}
        assert arrays[f"{key}/h"].shape == (2, 9, 5)


@pytest.mark.parametrize(
    ("shape", "shown"),
    [((3, 11), "(3, 11)"), ((12,), "(12,)"), ((3, 12, 1), "(3, 12, 1)")],
    ids=["short", "one-sequence", "3d"],
)
def test_wrong_signal_shape_writes_nothing(
    model_and_data: tuple[Path, Path], tmp_path: Path, shape: tuple[int, ...], shown: str
) -> None:
    model, data = model_and_data
    signal = tmp_path / "signal.npy"
    np.save(signal, np.zeros(shape))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["gates", str(model), str(data), "--out", str(out), "--signal", str(signal)]
    )
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"lstmkit: error: --signal '{signal}' must hold one value per step of DATA, shape (B, T) = (3, 12), "
        f"got shape {shown}\n"
    )
    assert not out.exists()


def test_csv_signal_of_one_sequence(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, _ = model_and_data
    data, signal = tmp_path / "one.csv", tmp_path / "signal.csv"
    data.write_text("value,marker\n" + "\n".join(f"{t / 10},{int(t in (2, 7))}" for t in range(10)))
    signal.write_text("sum\n" + "\n".join(str(t) for t in range(10)))
    out = tmp_path / "o"
    result = CliRunner().invoke(
        cli, ["gates", str(model), str(data), "--out", str(out), "--signal", str(signal)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "units_rnn_l0_forward.png").read_bytes()[:4] == b"\x89PNG"


def test_max_units_must_be_positive(model_and_data: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = model_and_data
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["gates", str(model), str(data), "--out", str(out), "--max-units", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--max-units': 0 is not in the range x>=1" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty; expected a CSV with a header row and numeric columns"),
        ("value,marker\n", "has a header but no rows; expected a header row and numeric columns"),
        ("name\nx\ny\n", "has no numeric columns"),
    ],
    ids=["empty", "header-only", "no-numbers"],
)
def test_unreadable_csv_is_named(
    model_and_data: tuple[Path, Path], tmp_path: Path, content: str, message: str
) -> None:
    model, _ = model_and_data
    data = tmp_path / "data.csv"
    data.write_text(content)
    result = CliRunner().invoke(cli, ["gates", str(model), str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == f"lstmkit: error: DATA '{data}' {message}\n"


def test_model_config_without_a_key_names_the_file_and_key(
    model_and_data: tuple[Path, Path], tmp_path: Path
) -> None:
    _, data = model_and_data
    broken = tmp_path / "broken.safetensors"
    save_bundle(broken, {}, {"kind": "memory_task_net"})
    result = CliRunner().invoke(cli, ["gates", str(broken), str(data)])
    assert result.exit_code == 2
    assert result.output == (
        f"lstmkit: error: '{broken}' is a damaged memory_task_net file: KeyError: 'cell'\n"
    )


def _truncated_npy(path: Path) -> None:
    np.save(path, np.zeros((2, 6, 2)))
    path.write_bytes(path.read_bytes()[:100])


def _truncated_npz(path: Path) -> None:
    np.savez(path, x=np.zeros((2, 6, 2)))
    path.write_bytes(path.read_bytes()[:150])


def _object_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        pytest.param("data.npy", _truncated_npy, id="truncated-npy"),
        pytest.param("data.npz", _truncated_npz, id="truncated-npz"),
        pytest.param("data.npz", lambda p: p.write_bytes(b"hello world" * 10), id="garbage-npz"),
        pytest.param("data.npy", _object_npy, id="python-objects"),
    ],
)
@pytest.mark.parametrize("role", ["DATA", "--signal"])
def test_unreadable_numpy_file_is_one_line_naming_it(
    model_and_data: tuple[Path, Path], tmp_path: Path, name: str, make: Callable[[Path], None], role: str
) -> None:
    model, data = model_and_data
    bad = tmp_path / name
    make(bad)
    args = [str(model), str(bad)] if role == "DATA" else [str(model), str(data), "--signal", str(bad)]
    result = CliRunner().invoke(cli, ["gates", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lstmkit: error: {role} '{bad}' could not be read: ")
    assert lines[0].endswith("expected a .npy/.npz array of numbers (written by numpy.save or numpy.savez)")
    assert "pickle" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        pytest.param(np.zeros((3, 12), dtype=np.complex128), "complex128", id="complex"),
        pytest.param(np.zeros((3, 12), dtype=bool), "bool", id="bool"),
    ],
)
@pytest.mark.parametrize("role", ["DATA", "--signal"])
def test_only_real_numbers_are_read(
    model_and_data: tuple[Path, Path], tmp_path: Path, values: np.ndarray, dtype: str, role: str
) -> None:
    model, data = model_and_data
    bad = tmp_path / "bad.npy"
    np.save(bad, values if role == "--signal" else values[..., None].repeat(2, axis=-1))
    args = [str(model), str(bad)] if role == "DATA" else [str(model), str(data), "--signal", str(bad)]
    result = CliRunner().invoke(cli, ["gates", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == (
        f"lstmkit: error: {role} '{bad}' must hold real numbers (integers or floats), got dtype {dtype}\n"
    )  # a complex array's imaginary part was dropped
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("role", ["DATA", "--signal"])
def test_non_finite_values_are_named_by_their_file(
    model_and_data: tuple[Path, Path], tmp_path: Path, role: str
) -> None:
    model, data = model_and_data
    values = np.load(data) if role == "DATA" else np.zeros((3, 12))
    values[0, 1, ...] = np.inf
    bad = tmp_path / "bad.npy"
    np.save(bad, values)
    args = [str(model), str(bad)] if role == "DATA" else [str(model), str(data), "--signal", str(bad)]
    result = CliRunner().invoke(cli, ["gates", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.startswith(f"lstmkit: error: {role} '{bad}' contains ")
    assert "NaN or infinite value(s), the first at index (0, 1" in result.output


def test_values_beyond_float32_are_refused_before_the_cast(
    model_and_data: tuple[Path, Path], tmp_path: Path
) -> None:
    model, data = model_and_data
    values = np.load(data).astype(np.float64)
    values[1, 2, 0] = -1e39
    big = tmp_path / "big.npy"
    np.save(big, values)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "overflow encountered in cast"
        result = CliRunner().invoke(cli, ["gates", str(model), str(big), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output == (
        f"lstmkit: error: DATA '{big}' holds -1e+39 at index (1, 2, 0), beyond float32's largest magnitude "
        f"3.4e+38 (the model runs in float32); rescale the data\n"
    )
