"""BackupAndRestore: a run killed at any moment resumes from its last completed epoch when started again.

After every epoch the model's weights, the optimizer state, the epoch and the random number generators'
states (torch, CUDA, NumPy, Python) go into one safetensors file, written atomically, so a kill -9 leaves
either the previous backup or the new one. On the next ``fit`` the backup is restored before the first
epoch, and training continues exactly where it stopped: with a fixed seed the final weights equal those
of an uninterrupted run.
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


def capture_rng() -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The states of torch's, CUDA's, NumPy's and Python's global generators as tensors and JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, py_state, gauss = random.getstate()
    config = {
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
        "python": [version, list(py_state), gauss],
    }
    return tensors, config


def restore_rng(tensors: dict[str, Tensor], config: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    kind, pos, has_gauss, cached = config["numpy"]
    keys = tensors["rng.numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))
    version, py_state, gauss = config["python"]
    random.setstate((version, tuple(py_state), gauss))


class BackupAndRestore(Callback):
    """Back up the training state after each epoch; restore it when ``fit`` starts again.

    Args:
        backup_dir: folder for the backup file (``backup.lstmkit``).
        delete_checkpoint: remove the backup once training ends normally.

    Implementation notes:
        Callback state (e.g. EarlyStopping's patience counter) and the History of epochs run before the
        interruption are not restored, as in Keras.
    """

    def __init__(self, backup_dir: str | os.PathLike[str], delete_checkpoint: bool = True) -> None:
        self.path = Path(backup_dir) / "backup.lstmkit"
        self.delete_checkpoint = delete_checkpoint

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if not self.path.is_file():
            return
        from lstmkit.models.saving import restore_into

        tensors, config = load_bundle(self.path)
        if config.get("kind") != BACKUP_KIND:
            raise ValueError(f"'{self.path}' is not a BackupAndRestore file (kind {config.get('kind')!r})")
        restore_into(self.model, tensors, config, str(self.path))
        restore_rng(tensors, config["rng"])
        self.model.resume_epoch = int(config["epoch"]) + 1

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.model.is_chief:
            self.model.distributed.barrier()
            return
        from lstmkit.models.saving import model_to_bundle

        tensors, config = model_to_bundle(self.model)
        rng_tensors, rng_config = capture_rng()
        config.update({"kind": BACKUP_KIND, "epoch": epoch, "rng": rng_config})
        save_bundle(self.path, {**tensors, **rng_tensors}, config)
        self.model.distributed.barrier()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.delete_checkpoint and self.model.is_chief:
            self.path.unlink(missing_ok=True)
