"""Atomic writes and model bundles: permissions as a plain open() gives them, round trips."""

from __future__ import annotations

import json
import os
import re
import stat
import struct
from collections.abc import Iterator
from pathlib import Path

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
