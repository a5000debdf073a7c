"""One-file model bundles: safetensors tensors plus a JSON config in the safetensors header.

A bundle is a plain safetensors file. Its header's ``__metadata__`` holds ``format = "lstmkit"``,
``format_version`` and ``config``, a JSON document. Nothing is ever unpickled, and files are written
to a temporary file in the destination folder and renamed into place, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "lstmkit"
FORMAT_VERSION = 1


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back; POSIX offers no other query)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename.

    The file gets the permissions a plain ``open(path, "w")`` would give it: those of the file it
    replaces, else ``0o666`` less the umask (not the ``0o600`` of the temporary file).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    data = source.read_bytes()
    header = _read_header(data, source)
    metadata = header.get("__metadata__") or {}
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
        tensors = st_load(data)
        config = json.loads(metadata["config"])
    except (SafetensorError, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"'{source}' is a corrupt or truncated lstmkit model file: {err}") from err
    if not isinstance(config, dict):
        raise ValueError(f"'{source}' holds a config of type {type(config).__name__}, expected an object")
    return tensors, config


def _read_header(data: bytes, source: Path) -> dict[str, Any]:
    """Parse the safetensors header: 8 bytes little-endian length, then that many bytes of JSON."""
    if len(data) < 8:
        raise ValueError(
            f"'{source}' is not an lstmkit model file: {len(data)} bytes, too short for a header"
        )
    length = int.from_bytes(data[:8], "little")
    if length <= 0 or 8 + length > len(data):
        raise ValueError(
            f"'{source}' is not an lstmkit model file, or is truncated: header of {length} bytes "
            f"announced in a file of {len(data)} bytes"
        )
    try:
        header = json.loads(data[8 : 8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"'{source}' is not an lstmkit model file: unreadable header ({err})") from err
    if not isinstance(header, dict):
        raise ValueError(f"'{source}' is not an lstmkit model file: header is not a JSON object")
    return header
