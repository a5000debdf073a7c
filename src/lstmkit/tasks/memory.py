"""The long-time-lag memory benchmark: LSTM, GRU and RNN trained under one budget on the same task.

For each sequence length and model, :func:`run_memory_benchmark` trains a :class:`SequenceNet` on fresh
batches from the task's generator (Adam, gradient-norm clipping), evaluates on a fixed validation set
every ``eval_every`` steps, stops when the model solves the task (or the step or time budget runs out)
and reports the loss on a separate test set beside the trivial baseline:

- adding: MSE; baseline ``1/6 ≈ 0.167`` (predict 1); solved when validation MSE ``< 0.01``.
- copy: cross-entropy per step over all ``T + 20`` steps; baseline ``10 log 8 / (T + 20)``; accuracy on
  the 10 recalled symbols; solved when that accuracy ``>= 0.99``.
- temporal_order: cross-entropy; baseline ``log 4``; accuracy; solved when accuracy ``>= 0.99``.

Every model sees the same batches in the same order (the batch stream depends on the seed only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.models.optimizers import torch_adam
from lstmkit.tasks.generators import (
    ADDING_BASELINE_MSE,
    ADDING_MIN_LENGTH,
    COPY_LENGTH,
    COPY_MIN_LENGTH,
    TEMPORAL_ORDER_MIN_LENGTH,
    TaskData,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    temporal_order,
)
from lstmkit.tasks.models import CELL_KINDS, SequenceNet, count_parameters
from lstmkit.utils.seed import set_seed
from lstmkit.utils.validation import (
    MAX_SEED,
    check_bool,
    check_choice,
    check_positive_int,
    check_real,
    check_seed,
)

TASKS: tuple[str, ...] = ("adding", "copy", "temporal_order")
MIN_LENGTHS: dict[str, int] = {
    "adding": ADDING_MIN_LENGTH,
    "copy": COPY_MIN_LENGTH,
    "temporal_order": TEMPORAL_ORDER_MIN_LENGTH,
}
ADDING_SOLVED_MSE = 0.01
SOLVED_ACCURACY = 0.99


@dataclass(frozen=True)
class MemoryBenchConfig:
    """One benchmark run.

    Attributes:
        task: ``"adding"``, ``"copy"`` or ``"temporal_order"``.
        lengths: distinct sequence lengths ``T`` to train at (a tuple; a list is stored as one), at least
            the task's minimum: 2 for adding, 1 for copy, 20 for temporal order.
        models: distinct names among ``"lstm"``, ``"gru"``, ``"rnn"`` (a tuple or list of them).
        hidden_size: hidden units of every model.
        batch_size: training batch size.
        lr: Adam learning rate.
        max_steps: training steps per model and length.
        time_limit: seconds per model and length (``None`` for no limit); the run stops after the step
            that crosses it.
        eval_every: steps between validation evaluations (and loss-curve points).
        eval_size: validation examples.
        test_size: test examples.
        clip_norm: gradient-norm clipping threshold (positive; training always clips).
        stop_when_solved: stop a model's training at the first evaluation that counts as solved.
        lstm_forget_bias: the LSTM's forget-gate bias at initialization; 1.0 by default, as in Keras
            (``unit_forget_bias``; Jozefowicz et al. 2015) and ``lstmkit bench memory``; 0.0 gives torch's
            initialization. GRU and RNN have no such gate.
        seed: seed of the batch stream, the validation and test sets, and the initialization: an integer
            in ``[0, 2**63 - 1]``.

    Raises:
        TypeError: a field of the wrong type (``models="lstm"``, ``lengths=100``, ``lr="0.1"``).
        ValueError: a value out of range, or a length or model named twice.
    """

    task: str = "adding"
    lengths: tuple[int, ...] = (100, 200, 400)
    models: tuple[str, ...] = ("lstm", "gru", "rnn")
    hidden_size: int = 128
    batch_size: int = 64
    lr: float = 1e-3
    max_steps: int = 5000
    time_limit: float | None = None
    eval_every: int = 100
    eval_size: int = 1000
    test_size: int = 2000
    clip_norm: float = 1.0
    stop_when_solved: bool = True
    lstm_forget_bias: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("task", self.task, TASKS)
        lengths = tuple(
            check_positive_int(f"length for task {self.task!r}", length, minimum=MIN_LENGTHS[self.task])
            for length in _distinct("lengths", self.lengths, example="(100, 200)")
        )
        models = _distinct("models", self.models, example=repr(CELL_KINDS))
        for model in models:
            check_choice("model", model, CELL_KINDS)
        # frozen: each field set once, as the plain int, float or tuple its checks return (NumPy numbers
        # pass the checks, and metrics.json is written from these fields)
        normalized: dict[str, Any] = {"lengths": lengths, "models": models}
        for name in ("hidden_size", "batch_size", "max_steps", "eval_every", "eval_size", "test_size"):
            normalized[name] = check_positive_int(name, getattr(self, name))
        normalized["lr"] = check_real("lr", self.lr, positive=True)
        if self.time_limit is not None:
            normalized["time_limit"] = check_real(
                "time_limit (seconds, or None for no limit)", self.time_limit, positive=True
            )
        normalized["clip_norm"] = check_real("clip_norm", self.clip_norm, positive=True)
        normalized["lstm_forget_bias"] = check_real("lstm_forget_bias", self.lstm_forget_bias)
        normalized["stop_when_solved"] = check_bool("stop_when_solved", self.stop_when_solved)
        normalized["seed"] = check_seed("seed", self.seed)
        for name, value in normalized.items():
            object.__setattr__(self, name, value)


def _distinct(name: str, values: Any, *, example: str) -> tuple[Any, ...]:
    """``values`` as a tuple if it is a non-empty collection without repeats, else raise naming ``name``."""
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a tuple such as {example}, got {type(values).__name__} {values!r}; "
            f"write ({values!r},) for a single one"
        )
    items = tuple(values)
    if not items:
        raise ValueError(f"{name} must name at least one, such as {example}, got none")
    repeated = sorted({repr(v) for v in items if items.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} must be distinct, got {items} with {', '.join(repeated)} more than once")
    return items


def check_config(config: Any) -> MemoryBenchConfig:
    """``config`` if it is a :class:`MemoryBenchConfig`, else raise ``TypeError`` saying how to make one."""
    if not isinstance(config, MemoryBenchConfig):
        raise TypeError(
            f"config must be a MemoryBenchConfig, got {type(config).__name__}; make one from the "
            "settings, e.g. MemoryBenchConfig(task='adding', lengths=(100,)) or, from a dict, "
            "MemoryBenchConfig(**settings)"
        )
    return config


def derived_seed(seed: int, offset: int) -> int:
    """``seed + offset`` wrapped into ``[0, 2**63 - 1]``: the seed of a data set of its own."""
    return (seed + offset) % (MAX_SEED + 1)


@dataclass
class CurvePoint:
    """One evaluation during training."""

    step: int
    train_loss: float
    val_loss: float
    val_accuracy: float | None
    seconds: float


@dataclass
class RunResult:
    """The outcome of training one model at one length."""

    task: str
    model: str
    length: int
    parameters: int
    test_loss: float
    baseline_loss: float
    test_accuracy: float | None
    baseline_accuracy: float | None
    steps: int
    steps_to_solve: int | None
    stopped: str
    seconds: float
    curve: list[CurvePoint] = field(default_factory=list)

    @property
    def solved(self) -> bool:
        return self.steps_to_solve is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (``solved`` included)."""
        out = asdict(self)
        out["solved"] = self.solved
        return out


ProgressCallback = Callable[[str, int, CurvePoint], None]
"""Called after each evaluation with ``(model, length, point)``."""


class _Task:
    """The task-specific pieces: data, network shape, loss, accuracy, baseline, solved criterion."""

    def __init__(self, name: str, length: int) -> None:
        self.name = name
        self.length = length

    def generate(self, n: int, seed: int) -> TaskData:
        if self.name == "adding":
            return adding_problem(n, self.length, seed=seed)
        if self.name == "copy":
            return copy_memory(n, self.length, seed=seed)
        return temporal_order(n, self.length, seed=seed)

    def network(self, cell: str, hidden_size: int, forget_bias: float) -> SequenceNet:
        bias = forget_bias if cell == "lstm" else 0.0
        kind: Any = cell
        if self.name == "adding":
            return SequenceNet(kind, 2, hidden_size, 1, forget_bias=bias)
        if self.name == "copy":
            return SequenceNet(kind, 0, hidden_size, 10, readout="all", vocab_size=10, forget_bias=bias)
        return SequenceNet(kind, 8, hidden_size, 4, forget_bias=bias)

    def loss(self, output: Tensor, y: Tensor) -> Tensor:
        if self.name == "adding":
            return nn.functional.mse_loss(output, y)
        if self.name == "copy":
            return nn.functional.cross_entropy(output.reshape(-1, output.shape[-1]), y.reshape(-1))
        return nn.functional.cross_entropy(output, y)

    def accuracy(self, output: Tensor, y: Tensor) -> float | None:
        if self.name == "adding":
            return None
        if self.name == "copy":
            recalled = output[:, -COPY_LENGTH:].argmax(-1) == y[:, -COPY_LENGTH:]
            return float(recalled.float().mean())
        return float((output.argmax(-1) == y).float().mean())

    def baseline(self) -> tuple[float, float | None]:
        if self.name == "adding":
            return ADDING_BASELINE_MSE, None
        if self.name == "copy":
            return copy_memory_baseline(self.length), 1.0 / 8.0
        return math.log(4.0), 0.25

    def solved(self, val_loss: float, val_accuracy: float | None) -> bool:
        if self.name == "adding":
            return val_loss < ADDING_SOLVED_MSE
        return val_accuracy is not None and val_accuracy >= SOLVED_ACCURACY


def generate(task: str, n: int, length: int, *, seed: int) -> TaskData:
    """``n`` examples of ``task`` (``"adding"``, ``"copy"`` or ``"temporal_order"``) at length ``length``."""
    check_choice("task", task, TASKS)
    return _Task(task, length).generate(n, seed)


def initial_network(config: MemoryBenchConfig, cell: str) -> SequenceNet:
    """The untrained network :func:`train_one` starts from (same seed, same initialization)."""
    check_config(config)
    check_choice("model", cell, CELL_KINDS)
    set_seed(config.seed)
    return _Task(config.task, config.lengths[0]).network(cell, config.hidden_size, config.lstm_forget_bias)


def task_loss(task: str, output: Tensor, y: Tensor) -> Tensor:
    """The training loss of ``task``: MSE for adding, cross-entropy otherwise."""
    check_choice("task", task, TASKS)
    return _Task(task, 1).loss(output, y)


def _tensors(data: TaskData) -> tuple[Tensor, Tensor]:
    return torch.from_numpy(data.x), torch.from_numpy(data.y)


@torch.no_grad()
def _evaluate(
    net: nn.Module, task: _Task, x: Tensor, y: Tensor, chunk: int = 500
) -> tuple[float, float | None]:
    net.eval()
    outputs = [net(x[k : k + chunk]) for k in range(0, len(x), chunk)]
    net.train()
    output = torch.cat(outputs)
    return float(task.loss(output, y)), task.accuracy(output, y)


def train_one(
    config: MemoryBenchConfig,
    cell: str,
    length: int,
    *,
    progress: ProgressCallback | None = None,
) -> tuple[RunResult, nn.Module]:
    """Train one model at one length under the config's budget.

    Args:
        config: the benchmark settings.
        cell: ``"lstm"``, ``"gru"`` or ``"rnn"``.
        length: sequence length ``T``.
        progress: called after each evaluation.

    Returns:
        The result and the trained network (in eval mode).

    Raises:
        TypeError: ``config`` is not a :class:`MemoryBenchConfig`, or ``length`` is not an integer.
        ValueError: an unknown ``cell``, or ``length`` below the task's minimum.
    """
    check_config(config)
    check_choice("model", cell, CELL_KINDS)
    task = _Task(config.task, length)
    x_val, y_val = _tensors(task.generate(config.eval_size, seed=derived_seed(config.seed, 1_000_003)))
    x_test, y_test = _tensors(task.generate(config.test_size, seed=derived_seed(config.seed, 2_000_003)))
    net = initial_network(config, cell)
    optimizer = torch_adam(net, lr=config.lr)
    batch_seeds = np.random.default_rng(config.seed).integers(0, 2**31 - 1, size=config.max_steps)
    curve: list[CurvePoint] = []
    steps_to_solve: int | None = None
    stopped = "max_steps"
    running: list[float] = []
    start = time.perf_counter()
    step = 0
    net.train()
    for step in range(1, config.max_steps + 1):
        x, y = _tensors(task.generate(config.batch_size, seed=int(batch_seeds[step - 1])))
        loss = task.loss(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
        optimizer.step()
        running.append(loss.item())
        elapsed = time.perf_counter() - start
        out_of_time = config.time_limit is not None and elapsed >= config.time_limit
        if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
            val_loss, val_accuracy = _evaluate(net, task, x_val, y_val)
            point = CurvePoint(step, float(np.mean(running)), val_loss, val_accuracy, elapsed)
            curve.append(point)
            running = []
            if progress is not None:
                progress(cell, length, point)
            if steps_to_solve is None and task.solved(val_loss, val_accuracy):
                steps_to_solve = step
                if config.stop_when_solved:
                    stopped = "solved"
                    break
            if not math.isfinite(val_loss):
                stopped = "diverged"
                break
        if out_of_time:
            stopped = "time_limit"
            break
    test_loss, test_accuracy = _evaluate(net, task, x_test, y_test)
    net.eval()
    baseline_loss, baseline_accuracy = task.baseline()
    result = RunResult(
        task=config.task,
        model=cell,
        length=length,
        parameters=count_parameters(net),
        test_loss=test_loss,
        baseline_loss=baseline_loss,
        test_accuracy=test_accuracy,
        baseline_accuracy=baseline_accuracy,
        steps=step,
        steps_to_solve=steps_to_solve,
        stopped=stopped,
        seconds=time.perf_counter() - start,
        curve=curve,
    )
    return result, net


def run_memory_benchmark(
    config: MemoryBenchConfig,
    *,
    progress: ProgressCallback | None = None,
    on_result: Callable[[RunResult, nn.Module], None] | None = None,
) -> list[RunResult]:
    """Train every model of ``config`` at every length, one after the other.

    Args:
        config: the benchmark settings.
        progress: called after each evaluation with ``(model, length, point)``.
        on_result: called with each finished result and its trained network (to save it, or to report
            as the benchmark goes).

    Returns:
        One result per length and model, lengths outermost.

    Raises:
        TypeError: ``config`` is not a :class:`MemoryBenchConfig`.
    """
    check_config(config)
    results = []
    for length in config.lengths:
        for cell in config.models:
            result, net = train_one(config, cell, length, progress=progress)
            results.append(result)
            if on_result is not None:
                on_result(result, net)
    return results


def format_table(results: Sequence[RunResult]) -> str:
    """A plain-text table: one row per length and model."""
    header = (
        f"{'T':>5} {'model':<6} {'test loss':>10} {'baseline':>9} {'ratio':>7} {'acc':>6} "
        f"{'steps':>6} {'solved@':>8} {'stopped':<10} {'sec':>6}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        accuracy = "-" if r.test_accuracy is None else f"{r.test_accuracy:.3f}"
        solved = "-" if r.steps_to_solve is None else str(r.steps_to_solve)
        lines.append(
            f"{r.length:>5} {r.model:<6} {r.test_loss:>10.5f} {r.baseline_loss:>9.5f} "
            f"{r.test_loss / r.baseline_loss:>7.3f} {accuracy:>6} {r.steps:>6} {solved:>8} "
            f"{r.stopped:<10} {r.seconds:>6.0f}"
        )
    return "\n".join(lines)
