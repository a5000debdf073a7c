"""``lstmkit bench memory``: LSTM, GRU and RNN on a long-time-lag task, under one budget."""

from __future__ import annotations

import copy
import io
import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from lstmkit.cli.options import SEED

if TYPE_CHECKING:
    import numpy as np
    from torch import nn

    from lstmkit.inspect.gradient_flow import GradientFlow
    from lstmkit.tasks.memory import CurvePoint, MemoryBenchConfig, RunResult

# choices of lstmkit.tasks.memory and .models, copied so that --help imports no torch (a test keeps them
# equal)
TASKS = ("adding", "copy", "temporal_order")
CELL_KINDS = ("lstm", "gru", "rnn")

log = logging.getLogger(__name__)
GRADIENT_FLOW_EXAMPLES = 64


def _is_number(arg: str) -> bool:
    try:
        float(arg)
    except ValueError:
        return False
    return True


class _ListOptionsCommand(click.Command):
    """A command whose list options take several values after one flag: ``--length 100 200 400``.

    Arguments are rewritten before parsing into the repeated form click understands
    (``--length 100 --length 200 --length 400``); a value list ends at the next token starting with ``-``
    that is not a number (``-5`` is a value, for the range check to report). A list option followed by no
    value is a usage error.
    """

    list_options: ClassVar[dict[str, str]] = {"--length": "integers", "--models": "model names"}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        current: str | None = None
        count = 0
        for arg in args:
            if arg in self.list_options:
                self._check_values(ctx, current, count)
                current, count = arg, 0
                continue
            if current is not None and (not arg.startswith("-") or _is_number(arg)):
                rewritten += [current, arg]
                count += 1
                continue
            self._check_values(ctx, current, count)
            current = None
            rewritten.append(arg)
        self._check_values(ctx, current, count)
        return super().parse_args(ctx, rewritten)

    def _check_values(self, ctx: click.Context, option: str | None, count: int) -> None:
        if option is not None and count == 0:
            raise click.UsageError(f"{option} expects one or more {self.list_options[option]}, got none", ctx)


@click.group()
def bench() -> None:
    """Benchmarks that train small models and print tables."""


@bench.command(cls=_ListOptionsCommand)
@click.option("--task", type=click.Choice(TASKS), default="adding", show_default=True)
@click.option(
    "--length",
    "lengths",
    type=click.IntRange(min=1),
    multiple=True,
    default=(100, 200, 400),
    show_default=True,
    help="Distinct sequence lengths T (repeat the option or list several values); at least 2 for adding, "
    "1 for copy, 20 for temporal_order.",
)
@click.option(
    "--models", "models", type=click.Choice(CELL_KINDS), multiple=True, default=CELL_KINDS, show_default=True
)
@click.option("--hidden-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option(
    "--steps",
    "max_steps",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Training steps per model and length.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds per model and length.",
)
@click.option("--eval-every", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="torch CPU threads; 1 is fastest for these small models on a shared machine.",
)
@click.option(
    "--lstm-forget-bias",
    type=float,
    default=1.0,
    show_default=True,
    help="LSTM forget-gate bias at initialization (Keras' unit_forget_bias; 0 is torch's default).",
)
@click.option("--stop-when-solved/--no-stop-when-solved", default=True, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write metrics.json, loss_curves.png, gradient_flow_T<T>.png (not for copy, whose input is "
    "tokens), the trained models (<model>_T<T>.safetensors) and probe examples (data_T<T>.npy; for adding "
    "also signal_T<T>.npy, the running sum) here. lstmkit gates reads an lstm_T<T>.safetensors with its "
    "data_T<T>.npy of adding or temporal_order (not copy's tokens, not the GRU or RNN).",
)
def memory(
    task: str,
    lengths: tuple[int, ...],
    models: tuple[str, ...],
    hidden_size: int,
    batch_size: int,
    lr: float,
    max_steps: int,
    time_limit: float | None,
    eval_every: int,
    seed: int,
    threads: int,
    lstm_forget_bias: float,
    stop_when_solved: bool,
    out: Path | None,
) -> None:
    """Train each model at each length and print test loss against the trivial baseline."""
    import torch

    from lstmkit.tasks.memory import MemoryBenchConfig

    config = MemoryBenchConfig(
        task=task,
        lengths=lengths,
        models=models,
        hidden_size=hidden_size,
        batch_size=batch_size,
        lr=lr,
        max_steps=max_steps,
        time_limit=time_limit,
        eval_every=eval_every,
        seed=seed,
        stop_when_solved=stop_when_solved,
        lstm_forget_bias=lstm_forget_bias,
    )
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise click.UsageError(f"--out '{out}' cannot be made a folder: {err.strerror or err}") from err
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        _run_memory(config, threads, out)
    finally:
        torch.set_num_threads(previous_threads)


def _run_memory(config: MemoryBenchConfig, threads: int, out: Path | None) -> None:
    from lstmkit.tasks.memory import format_table, run_memory_benchmark
    from lstmkit.tasks.models import SequenceNet
    from lstmkit.tasks.plots import plot_loss_curves

    click.echo(f"memory benchmark: {config}, {threads} thread(s), LSTM = {SequenceNet.lstm_class_name()}")
    results: list[RunResult] = []
    nets: dict[tuple[str, int], nn.Module] = {}

    def progress(model: str, length: int, point: CurvePoint) -> None:
        accuracy = "" if point.val_accuracy is None else f" acc {point.val_accuracy:.3f}"
        click.echo(
            f"  T={length} {model} step {point.step}: train {point.train_loss:.4f} "
            f"val {point.val_loss:.4f}{accuracy} ({point.seconds:.0f}s)"
        )

    def on_result(result: RunResult, net: nn.Module) -> None:
        results.append(result)
        nets[(result.model, result.length)] = net
        click.echo(
            f"done T={result.length} {result.model}: test {result.test_loss:.5f} "
            f"(baseline {result.baseline_loss:.5f}), {result.stopped} after {result.steps} steps"
        )
        if out is not None:
            _write_metrics(out, config, results)
            _save_net(out / f"{result.model}_T{result.length}.safetensors", net, config, result)

    run_memory_benchmark(config, progress=progress, on_result=on_result)
    click.echo(format_table(results))
    if out is None:
        return
    plot_loss_curves(results, out / "loss_curves.png")
    written = ["loss_curves.png"] + [f"{r.model}_T{r.length}.safetensors" for r in results]
    flows, files = _gradient_flows(config, nets, out)
    written += files
    _write_metrics(out, config, results, flows)
    click.echo(f"wrote to {out}: metrics.json, {', '.join(written)}")


def _write_metrics(
    out: Path,
    config: MemoryBenchConfig,
    results: list[RunResult],
    flows: dict[int, dict[str, GradientFlow]] | None = None,
) -> None:
    from lstmkit.utils.serialization import atomic_write_text

    document = {"config": asdict(config), "results": [r.to_dict() for r in results]}
    if flows is not None:
        document["gradient_flow"] = {
            str(length): {model: flow.input_norm.tolist() for model, flow in per_model.items()}
            for length, per_model in flows.items()
        }
    atomic_write_text(out / "metrics.json", json.dumps(_finite_or_null(document), indent=2, allow_nan=False))


def _finite_or_null(value: Any) -> Any:
    """``value`` with each NaN or infinite float (a diverged run's loss) made ``None``: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def _save_net(path: Path, net: nn.Module, config: MemoryBenchConfig, result: RunResult) -> None:
    from lstmkit.tasks.models import SequenceNet, save_memory_net

    assert isinstance(net, SequenceNet)
    save_memory_net(path, net, task=config.task, length=result.length)


def _save_array(path: Path, array: np.ndarray) -> None:
    """``numpy.save`` to ``path`` atomically: a reader never sees a half-written file."""
    import numpy as np

    from lstmkit.utils.serialization import atomic_write_bytes

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())


def _gradient_flows(
    config: MemoryBenchConfig, nets: dict[tuple[str, int], nn.Module], out: Path
) -> tuple[dict[int, dict[str, GradientFlow]], list[str]]:
    """Gradient flow of each model, untrained and trained, on the same examples; writes those examples.

    Writes ``data_T<length>.npy`` (the examples' inputs, for ``lstmkit gates`` except copy's tokens) and,
    for adding, ``signal_T<length>.npy``: the running sum of the marked values, which a solving LSTM must
    hold; returns the flows and the names of the files written. Copy memory takes tokens, so it has no
    input gradient and no gradient-flow plot. Gradients are taken
    on float64 copies of the networks, so that a vanishing gradient shows its exponential decay instead
    of stopping at float32's underflow (about 1e-45).
    """
    import numpy as np
    import torch

    from lstmkit.inspect.gradient_flow import gradient_flow
    from lstmkit.inspect.plots import plot_gradient_flow_panels
    from lstmkit.tasks.memory import derived_seed, generate, initial_network, task_loss

    flows: dict[int, dict[str, GradientFlow]] = {}
    written: list[str] = []
    seed = derived_seed(config.seed, 3_000_017)
    for length in config.lengths:
        data = generate(config.task, GRADIENT_FLOW_EXAMPLES, length, seed=seed)
        _save_array(out / f"data_T{length}.npy", data.x)
        written.append(f"data_T{length}.npy")
        if config.task == "adding":
            _save_array(out / f"signal_T{length}.npy", np.cumsum(data.x[..., 0] * data.x[..., 1], axis=1))
            written.append(f"signal_T{length}.npy")
        if config.task == "copy":
            continue
        x, y = torch.from_numpy(data.x).double(), torch.from_numpy(data.y)
        y = y.double() if y.is_floating_point() else y

        def loss(output: torch.Tensor, y: torch.Tensor = y) -> torch.Tensor:
            return task_loss(config.task, output, y)

        def flow(net: nn.Module, x: torch.Tensor = x) -> GradientFlow:  # float64: past float32's underflow
            return gradient_flow(copy.deepcopy(net).double(), x, loss)

        initial = {model: flow(initial_network(config, model)) for model in config.models}
        trained = {model: flow(nets[(model, length)]) for model in config.models}
        plot_gradient_flow_panels(
            {"at initialization": initial, "after training": trained},
            out / f"gradient_flow_T{length}.png",
            title=f"{config.task}, T = {length}: gradient of the loss w.r.t. the input at each lag",
        )
        written.append(f"gradient_flow_T{length}.png")
        flows[length] = trained
    return flows, written
