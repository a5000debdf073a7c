"""One-file model bundles: safetensors tensors plus a JSON config in the safetensors header.

A bundle is a plain safetensors file. Its header's ``__metadata__`` holds ``format = "lstmkit"``,
``format_version`` and ``config``, a JSON document. Nothing is ever unpickled, and files are written
to a temporary file in the destination folder and renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "lstmkit"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 100_000_000
"""The longest header safetensors reads (its ``MAX_HEADER_SIZE``)."""


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back; POSIX offers no other query)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename.

    The file gets the permissions a plain ``open(path, "w")`` would give it: those of the file it
    replaces, else ``0o666`` less the umask (not the ``0o600`` of the temporary file). Missing folders
    are made.

    Raises:
        ValueError: ``path`` is empty.
        IsADirectoryError: ``path`` is a folder.
        NotADirectoryError: a file stands where one of its folders should be.
        OSError: the file cannot be written (the class and ``errno`` of the failure, e.g.
            ``PermissionError``); the message names ``path``, never the temporary file.
    """
    if not os.fspath(path):  # Path("") is ".", the working folder
        raise ValueError("expected the path of a file to write, got an empty path")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write '{target}': it is a folder; give a file's path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o666 & ~current_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except FileExistsError as err:  # mkdir's: the folder, or one above it, is a file (open() says ENOTDIR)
        raise NotADirectoryError(
            errno.ENOTDIR, f"cannot write '{target}': '{err.filename}' is a file, not a folder"
        ) from err
    except OSError as err:
        raise _naming(target, err) from err
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _naming(target, err) from err
        raise


def _naming(target: Path, err: OSError) -> OSError:
    """``err`` (same class and ``errno``) naming the file the caller asked for instead of the temporary
    file or the folder the failing call saw."""
    return type(err)(err.errno, f"cannot write '{target}': {err.strerror or err}")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) atomically; see :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_bundle(
    path: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> None:
    """Save tensors and a JSON-serializable config as one safetensors file, atomically.

    Args:
        path: destination file.
        tensors: name to tensor; tensors are copied to contiguous CPU memory.
        config: JSON-serializable description needed to rebuild the object.

    Raises:
        TypeError: ``config`` is not JSON-serializable.
    """
    try:
        config_json = json.dumps(config, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"save_bundle expected a JSON-serializable config, got {err}") from err
    cpu: dict[str, torch.Tensor] = {}
    storages: set[int] = set()
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu").contiguous()
        if t.numel() and t.untyped_storage().data_ptr() in storages:
            # one tensor under two names (tied weights) or views of one buffer: safetensors stores
            # each name on its own, so the values are written twice; loading copies them back into
            # the module's parameters, whose tie lives in the module's code
            t = t.clone()
        storages.add(t.untyped_storage().data_ptr())
        cpu[name] = t
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "config": config_json}
    atomic_write_bytes(path, st_save(cpu, metadata=metadata))


def load_bundle(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a bundle written by :func:`save_bundle`.

    Returns:
        ``(tensors, config)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is corrupt, truncated, not safetensors, or not an lstmkit bundle.
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"no lstmkit model file at '{source}'")
    with source.open("rb") as handle:
        config = _read_config(handle, source)  # the header only: a foreign or truncated file stops here
        handle.seek(0)
        data = handle.read()
    try:
        tensors = st_load(data)
    except SafetensorError as err:
        raise ValueError(f"'{source}' is a corrupt or truncated lstmkit model file: {err}") from err
    return tensors, config


def _read_config(handle: BinaryIO, source: Path) -> dict[str, Any]:
    """The config of an lstmkit bundle of this format version, read from the header of ``handle``'s file."""
    metadata = _read_header(handle, source).get("__metadata__") or {}
    if not isinstance(metadata, dict):
        metadata = {}  # safetensors writes a map of strings; anything else is not ours
    if metadata.get("format") != FORMAT:
        raise ValueError(
            f"'{source}' is a safetensors file but not an lstmkit model "
            f"(expected metadata format='{FORMAT}', got {metadata.get('format')!r})"
        )
    version = metadata.get("format_version")
    if not isinstance(version, str):  # safetensors metadata maps strings to strings
        raise ValueError(
            f"'{source}' has a corrupt lstmkit header: format_version must be a string such as "
            f"'{FORMAT_VERSION}', got {type(version).__name__} {version!r}"
        )
    if version != str(FORMAT_VERSION):
        raise ValueError(
            f"'{source}' has lstmkit format version {version}; this lstmkit reads version {FORMAT_VERSION}"
        )
    try:
        config = json.loads(metadata["config"])
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"'{source}' is a corrupt or truncated lstmkit model file: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"'{source}' holds a config of type {type(config).__name__}, expected an object")
    return config


def _read_header(handle: BinaryIO, source: Path) -> dict[str, Any]:
    """Parse the safetensors header: 8 bytes little-endian length, then that many bytes of JSON.

    Reads those bytes only: a file too short for the length it announces, or announcing more than
    safetensors reads (:data:`MAX_HEADER_BYTES`), is refused before its tensors are read.
    """
    size = os.fstat(handle.fileno()).st_size
    if size < 8:
        raise ValueError(f"'{source}' is not an lstmkit model file: {size} bytes, too short for a header")
    length = int.from_bytes(handle.read(8), "little")
    if length <= 0 or 8 + length > size or length > MAX_HEADER_BYTES:
        raise ValueError(
            f"'{source}' is not an lstmkit model file, or is truncated: header of {length} bytes "
            f"announced in a file of {size} bytes"
        )
    try:
        header = json.loads(handle.read(length).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"'{source}' is not an lstmkit model file: unreadable header ({err})") from err
    if not isinstance(header, dict):
        raise ValueError(f"'{source}' is not an lstmkit model file: header is not a JSON object")
    offsets = [entry.get("data_offsets") for entry in header.values() if isinstance(entry, dict)]
    ends = [o[1] for o in offsets if isinstance(o, list) and len(o) == 2 and isinstance(o[1], int)]
    end = 8 + length + max(ends, default=0)  # malformed offsets are safetensors' to refuse
    if end > size:
        raise ValueError(
            f"'{source}' is a truncated lstmkit model file: its tensors end at byte {end}, the file at {size}"
        )
    return header
