"""Atomic writes and model bundles: permissions as a plain open() gives them, round trips."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lstmkit.utils.serialization import atomic_write_bytes, atomic_write_text, load_bundle, save_bundle


@pytest.fixture
def umask_027() -> Iterator[None]:
    """Run the test under umask 027 (group may read, others nothing); the previous umask is restored."""
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077], ids=["022", "027", "077"])
def test_new_files_get_the_mode_open_would_give(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "atomic.txt", "x")
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
        current = os.umask(umask)
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "atomic.txt") == 0o666 & ~umask == _mode(tmp_path / "plain.txt")
    assert current == umask  # the writer read the umask and left it as it was


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "shared.csv"
    path.write_text("old")
    path.chmod(0o664)
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and _mode(path) == 0o664
    assert [p.name for p in tmp_path.iterdir()] == ["shared.csv"]  # no temporary file left


def test_bundle_round_trip_with_umask(tmp_path: Path, umask_027: None) -> None:
    path = tmp_path / "model.lstmkit"
    save_bundle(path, {"w": torch.arange(3.0)}, {"kind": "test", "n": 3})
    tensors, config = load_bundle(path)
    assert torch.equal(tensors["w"], torch.arange(3.0)) and config == {"kind": "test", "n": 3}
    assert _mode(path) == 0o640


@pytest.mark.parametrize(
    ("version", "received"), [(1, "int 1"), (None, "NoneType None")], ids=["int", "missing"]
)
def test_a_format_version_that_is_not_a_string_is_a_corrupt_header(
    tmp_path: Path, version: object, received: str
) -> None:
    metadata = {"format": "lstmkit", "config": "{}"}
    if version is not None:
        metadata["format_version"] = version  # type: ignore[assignment]
    header = json.dumps({"__metadata__": metadata}).encode()
    path = tmp_path / "model.lstmkit"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    message = (
        f"'{path}' has a corrupt lstmkit header: format_version must be a string such as '1', got {received}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_bundle(path)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("replace", PermissionError(errno.EACCES, "Permission denied")),
        ("fsync", OSError(errno.ENOSPC, "No space left on device")),
    ],
    ids=["rename-denied", "disk-full"],
)
def test_a_failed_write_names_the_target_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, error: OSError
) -> None:
    path = tmp_path / "model.lstmkit"
    path.write_bytes(b"old")

    def fail(*args: Any) -> None:
        raise type(error)(error.errno, error.strerror, *args[:1])  # as os names the temporary file

    monkeypatch.setattr(os, call, fail)
    with pytest.raises(type(error)) as caught:
        atomic_write_bytes(path, b"new")
    assert caught.value.errno == error.errno
    assert str(caught.value) == f"[Errno {error.errno}] cannot write '{path}': {error.strerror}"
    assert isinstance(caught.value.__cause__, OSError)
    assert [p.name for p in tmp_path.iterdir()] == ["model.lstmkit"] and path.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("name", "error", "code", "message"),
    [
        ("", ValueError, None, "expected the path of a file to write, got an empty path"),
        (
            "folder",
            IsADirectoryError,
            errno.EISDIR,
            "cannot write '{path}': it is a folder; give a file's path",
        ),
        (
            "data.csv/model.lstmkit",
            NotADirectoryError,
            errno.ENOTDIR,
            "cannot write '{path}': '{tmp_path}/data.csv' is a file, not a folder",
        ),
    ],
    ids=["empty", "folder", "file-as-folder"],
)
def test_a_path_that_names_no_writable_file_is_refused_naming_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    error: type[Exception],
    code: int | None,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # "" would be the working folder
    (tmp_path / "folder").mkdir()
    (tmp_path / "data.csv").write_text("x")
    path = tmp_path / name if name else name
    expected = message.format(path=path, tmp_path=tmp_path)
    with pytest.raises(error) as caught:
        atomic_write_bytes(path, b"new")
    assert getattr(caught.value, "errno", None) == code
    assert str(caught.value) == (expected if code is None else f"[Errno {code}] {expected}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "folder"]
    assert not any((tmp_path / "folder").iterdir())


class _CountedFile:
    """A file opened for reading that adds the bytes read through it to ``counts``."""

    def __init__(self, handle: Any, counts: list[int]) -> None:
        self.handle, self.counts = handle, counts

    def read(self, *size: int) -> bytes:
        data = self.handle.read(*size)
        self.counts.append(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handle, name)

    def __enter__(self) -> _CountedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


@pytest.mark.parametrize("damage", ["foreign", "truncated"])
def test_a_foreign_or_truncated_file_is_refused_from_its_header_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "model.lstmkit"
    tensors = {"w": torch.zeros(100_000)}
    if damage == "foreign":
        save_file(tensors, str(path))
        expected = "is a safetensors file but not an lstmkit model"
    else:
        save_bundle(path, tensors, {"kind": "test"})
        path.write_bytes(path.read_bytes()[:-4])
        expected = "is a truncated lstmkit model file: its tensors end at byte"
    header = 8 + int.from_bytes(path.read_bytes()[:8], "little")
    counts: list[int] = []
    open_ = Path.open
    monkeypatch.setattr(
        Path, "open", lambda self, *args, **kwargs: _CountedFile(open_(self, *args, **kwargs), counts)
    )
    with pytest.raises(ValueError, match=re.escape(f"'{path}' {expected}")):
        load_bundle(path)
    assert sum(counts) == header < path.stat().st_size
