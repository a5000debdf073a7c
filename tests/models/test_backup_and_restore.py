"""BackupAndRestore: kill -9 in the middle of an epoch, start again, end with the uninterrupted weights."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from lstmkit.models.callbacks.backup import capture_rng, restore_own_rng, restore_rng, rng_prefix
from lstmkit.utils import set_seed

SCRIPT = r"""
import os, signal, sys
import numpy as np
import torch
from lstmkit.layers import LSTM, Dense, Dropout
from lstmkit.models import Sequential
from lstmkit.models.callbacks import BackupAndRestore, LambdaCallback
from lstmkit.utils import set_seed

backup_dir, out, kill_epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(1)
set_seed(0)
x = np.random.default_rng(0).normal(size=(24, 5, 1)).astype("float32")
y = x[:, -2:, 0].sum(axis=1, keepdims=True)
model = Sequential([LSTM(4, input_shape=(5, 1)), Dropout(0.3), Dense(1)])
model.compile(optimizer="adam", loss="mse")
current = {"epoch": -1}

def begin(epoch, logs):
    current.update(epoch=epoch)
    with open(out + ".epochs", "a") as handle:
        handle.write(f"{epoch}\n")

def kill_mid_epoch(batch, logs):
    if current["epoch"] == kill_epoch and batch == 1:
        os.kill(os.getpid(), signal.SIGKILL)

callbacks = [
    BackupAndRestore(backup_dir),
    LambdaCallback(
        on_epoch_begin=begin,
        on_train_batch_end=kill_mid_epoch,
    ),
]
model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=callbacks)
model.save_weights(out)
"""


def _run(script: Path, backup: Path, out: Path, kill_epoch: int) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.run(
        [sys.executable, str(script), str(backup), str(out), str(kill_epoch)],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_killed_run_resumes_and_matches_uninterrupted_run(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    reference = _run(script, tmp_path / "backup_ref", tmp_path / "reference.lstmkit", kill_epoch=-1)
    assert reference.returncode == 0, reference.stderr.decode()

    killed = _run(script, tmp_path / "backup", tmp_path / "resumed.lstmkit", kill_epoch=2)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "backup" / "backup.lstmkit").is_file()
    assert not (tmp_path / "resumed.lstmkit").exists()

    resumed = _run(script, tmp_path / "backup", tmp_path / "resumed.lstmkit", kill_epoch=-1)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert not (tmp_path / "backup" / "backup.lstmkit").exists()  # deleted after a normal end

    epochs_run = (tmp_path / "resumed.lstmkit.epochs").read_text().split()
    assert epochs_run == ["0", "1", "2", "2", "3", "4"]  # killed during epoch 2, resumed at epoch 2
    expected = load_file(tmp_path / "reference.lstmkit")
    actual = load_file(tmp_path / "resumed.lstmkit")
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        assert torch.equal(actual[name], tensor), name


def _draws() -> tuple[list[float], list[float], float]:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()


def test_each_rank_takes_back_its_own_generators() -> None:
    before = capture_rng()
    try:
        tensors, states, draws = {}, [], []
        for rank in (0, 1):  # the ranks' generators differ (dropout masks of different sizes)
            set_seed(rank)
            rank_tensors, state = capture_rng(rng_prefix(rank))
            tensors.update(rank_tensors)
            states.append(state)
            draws.append(_draws())
        for rank in (1, 0):
            restore_own_rng(tensors, {"rng": states}, rank)
            assert _draws() == draws[rank], rank
        old = {k: v for k, v in tensors.items() if not k.startswith("rng.rank")}
        for rank in (0, 1):  # a backup from before every rank's was kept: one state, for every rank
            restore_own_rng(old, {"rng": states[0]}, rank)
            assert _draws() == draws[0], rank
    finally:
        restore_rng(*before)


def test_a_backup_without_a_usable_epoch_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    # every rank must reach the agreement on the epoch, so _read returns what went wrong instead of raising
    from lstmkit.models.callbacks import BackupAndRestore
    from lstmkit.models.callbacks.backup import BACKUP_KIND
    from lstmkit.utils.serialization import save_bundle

    callback = BackupAndRestore(tmp_path)
    for epoch in ({}, {"epoch": "3"}, {"epoch": -1}, {"epoch": True}):
        save_bundle(callback.path, {"w": torch.zeros(1)}, {"kind": BACKUP_KIND, **epoch})
        backup, found, error = callback._read()
        assert backup is None and found == -2
        assert isinstance(error, ValueError) and "corrupt header: epoch" in str(error)
