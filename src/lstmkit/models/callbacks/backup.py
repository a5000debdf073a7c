"""BackupAndRestore: a run killed at any moment resumes from its last completed epoch when started again.

After every epoch the model's weights, the optimizer state, the epoch and the random number generators'
states (torch, CUDA, NumPy, Python; in data-parallel training every rank's) go into one safetensors file,
written atomically, so a kill -9 leaves either the previous backup or the new one. On the next ``fit`` the
backup is restored before the first epoch (each rank takes back its own generators), and training
continues exactly where it stopped: with a fixed seed the final weights equal those of an uninterrupted run.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lstmkit.models.callbacks.base import Callback, Logs
from lstmkit.utils.serialization import load_bundle, save_bundle

BACKUP_KIND = "keras_backup"


def rng_prefix(rank: int) -> str:
    """The names of one rank's generator states in a backup: ``rng.torch`` for rank 0 (and a single
    process), ``rng.rank1.torch`` for rank 1."""
    return "rng." if rank == 0 else f"rng.rank{rank}."


def capture_rng(prefix: str = "rng.") -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The states of torch's, CUDA's, NumPy's and Python's global generators as tensors and JSON."""
    tensors = {f"{prefix}torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{prefix}cuda.{index}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors[f"{prefix}numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, gauss = random.getstate()
    config = {
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
        "python": [version, list(py_state), gauss],
    }
    return tensors, config


def restore_rng(tensors: dict[str, Tensor], config: dict[str, Any], prefix: str = "rng.") -> None:
    torch.set_rng_state(tensors[f"{prefix}torch"])
    cuda = [k for k in tensors if k.startswith(f"{prefix}cuda.")]
    if cuda and torch.cuda.is_available():
        cuda.sort(key=lambda k: int(k.rsplit(".", 1)[1]))  # by device index: cuda.2 before cuda.10
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    kind, pos, has_gauss, cached = config["numpy"]
    keys = tensors[f"{prefix}numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    version, py_state, gauss = config["python"]
    random.setstate((version, tuple(py_state), gauss))


def restore_own_rng(tensors: dict[str, Tensor], config: dict[str, Any], rank: int) -> None:
    """Give this rank the generator states it had when the backup was written.

    ``config["rng"]`` lists the ranks' states by rank; a backup written before lstmkit kept every rank's
    holds one state (a dict), which every rank takes, as do ranks beyond those of the run that wrote it.
    """
    states = config["rng"] if isinstance(config["rng"], list) else [config["rng"]]
    own = rank if rank < len(states) else 0
    restore_rng(tensors, states[own], rng_prefix(own))


class BackupAndRestore(Callback):
    """Back up the training state after each epoch; restore it when ``fit`` starts again.

    Args:
        backup_dir: folder for the backup file (``backup.lstmkit``). In data-parallel training rank 0
            writes it and every rank reads it, so it must be on a file system that all nodes share.
        delete_checkpoint: remove the backup once training ends normally.

    Raises:
        ValueError: (when ``fit`` starts) the backup is unreadable or not a BackupAndRestore file, or the
            ranks see different backups (a node-local ``backup_dir``); every rank raises.

    Implementation notes:
        Callback state (e.g. EarlyStopping's patience counter) and the History of epochs run before the
        interruption are not restored, as in Keras.
    """

    def __init__(self, backup_dir: str | os.PathLike[str], delete_checkpoint: bool = True) -> None:
        self.path = Path(backup_dir) / "backup.lstmkit"
        self.delete_checkpoint = delete_checkpoint

    def on_train_begin(self, logs: Logs | None = None) -> None:
        backup, epoch, error = self._read()
        # every rank must resume at the same epoch, or the ranks wait on each other's collectives forever
        low, high = self.model.distributed.min_max(epoch)
        if error is not None:
            raise error
        if low != high:
            raise ValueError(
                f"BackupAndRestore: the ranks see different backups in backup_dir '{self.path.parent}' (last "
                f"completed epoch from {low} to {high}; -1: no backup, -2: unreadable); backup_dir must be "
                f"a folder every rank can read, on a file system all nodes share, not a node-local one"
            )
        if backup is None:
            return
        from lstmkit.models.saving import restore_into

        tensors, config = backup
        restore_into(self.model, tensors, config, str(self.path))
        restore_own_rng(tensors, config, self.model.distributed.rank)
        self.model.resume_epoch = epoch + 1

    def _read(self) -> tuple[tuple[dict[str, Tensor], dict[str, Any]] | None, int, Exception | None]:
        """``(backup or None, its epoch or -1 for none or -2 for unreadable, the error reading it)``."""
        if not self.path.is_file():
            return None, -1, None
        try:  # every failure is returned, not raised: the ranks must all reach the collective after this
            tensors, config = load_bundle(self.path)
            if config.get("kind") != BACKUP_KIND:
                kind = config.get("kind")
                raise ValueError(f"'{self.path}' is not a BackupAndRestore file (kind {kind!r})")
            epoch = config.get("epoch")
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
                raise ValueError(f"'{self.path}' has a corrupt header: epoch {epoch!r}, not a count")
        except (ValueError, OSError) as err:
            return None, -2, err
        return (tensors, config), epoch, None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        distributed = self.model.distributed
        rng = distributed.all_gather(capture_rng(rng_prefix(distributed.rank)))  # every rank's generators
        if self.model.is_chief:
            from lstmkit.models.saving import model_to_bundle

            tensors, config = model_to_bundle(self.model)
            for rng_tensors, _ in rng:
                tensors.update(rng_tensors)
            config.update({"kind": BACKUP_KIND, "epoch": epoch, "rng": [state for _, state in rng]})
            save_bundle(self.path, tensors, config)
        distributed.barrier()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.delete_checkpoint and self.model.is_chief:
            self.path.unlink(missing_ok=True)
