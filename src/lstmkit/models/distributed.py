"""Data-parallel training on PyTorch's DDP: ``fit(..., distributed=True)`` under ``torchrun``.

Every rank draws the same shuffle (each epoch's generator is seeded with rank 0's seed), takes its
contiguous share of each global batch, and computes its share of the global-batch loss (see
:mod:`lstmkit.models.training`; a masked sequence output's count of valid steps is summed across ranks
every batch); DDP averages gradients. Loss sums, sample counts and metric states are
summed across ranks, after every batch and every epoch, so every rank's callbacks see the same logs.
After ``fit`` the model is back to one process (``world == 1``), keeping its rank for ``is_chief``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel


def collective_device() -> torch.device:
    """Where the default group's collectives take their tensors: this process's GPU under NCCL (which
    reduces CUDA tensors only), the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class Distributed:
    """The process group seen by one rank (``world == 1`` outside distributed training)."""

    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world

    @classmethod
    def setup(cls, device: torch.device) -> Distributed:
        """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, NCCL on GPU).

        Raises:
            RuntimeError: not launched by torchrun (no ``RANK``/``WORLD_SIZE``) and no group initialized.
        """
        if not dist.is_initialized():
            missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
            if missing:
                raise RuntimeError(
                    f"fit(distributed=True) needs torchrun (or an initialized process group); missing "
                    f"environment variables {', '.join(missing)}. Launch with: "
                    f"torchrun --nproc_per_node=2 script.py"
                )
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    @staticmethod
    def local_device(device: torch.device) -> torch.device:
        """On CUDA without an explicit index, this process's GPU: ``cuda:LOCAL_RANK`` (torchrun sets it)."""
        if device.type != "cuda" or device.index is not None:
            return device
        local = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(local)
        return local

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        if self.world == 1:
            return module
        ids = [device.index] if device.type == "cuda" and device.index is not None else None
        return DistributedDataParallel(module, device_ids=ids)

    def all_reduce_sums(
        self, loss_sum: Tensor, count: Tensor, states: list[Tensor]
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Sum the loss sum, the count and each metric state over ranks (one collective)."""
        sizes = [s.numel() for s in states]
        flat = torch.cat([loss_sum.reshape(1), count.reshape(1), *states]).double()
        flat = flat.to(collective_device())
        dist.all_reduce(flat)
        parts = list(flat.cpu().split([1, 1, *sizes]))
        return parts[0][0], parts[1][0], parts[2:]

    def all_reduce_sum(self, value: Tensor) -> Tensor:
        """``value`` summed over ranks, on its device and in its dtype (one collective, in float64: counts
        stay exact; ``value`` itself outside distributed training)."""
        if self.world == 1:
            return value
        total = value.detach().to(collective_device(), torch.float64)
        dist.all_reduce(total)
        return total.to(value.device, value.dtype)

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable), by rank (one collective; ``[value]`` outside distributed
        training)."""
        if self.world == 1:
            return [value]
        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def min_max(self, value: int) -> tuple[int, int]:
        """The smallest and the largest of the ranks' ``value`` (one collective; ``(value, value)`` outside
        distributed training)."""
        if self.world == 1:
            return value, value
        both = torch.tensor([-value, value], dtype=torch.int64, device=collective_device())
        dist.all_reduce(both, op=dist.ReduceOp.MAX)
        low, high = both.tolist()
        return -low, high

    def shared_seed(self, seed: int) -> int:
        """Rank 0's ``seed`` on every rank (one collective; ``seed`` itself outside distributed training)."""
        if self.world == 1:
            return seed
        value = torch.tensor([seed], dtype=torch.int64, device=collective_device())
        dist.broadcast(value, src=0)
        return int(value.item())

    def broadcast_module(self, module: nn.Module) -> None:
        """Give every rank rank 0's weights (DDP does this too; explicit for the resume path)."""
        if self.world > 1:
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()
