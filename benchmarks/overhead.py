"""Where a native LSTM call's time goes: the compiled time loop, and everything around it.

    python benchmarks/overhead.py                  # C1 and C3: training step and inference forward
    python benchmarks/overhead.py --configs C1 --repeats 400

For ``lstmkit.nn.LSTM(backend="native")`` each row splits the median call into

- **kernel**: the compiled forward and backward calls (``lstmkit.ops._native``), timed from inside the call;
- **around**: everything else: the module's and autograd's Python, buffers, weight packing, and in a
  training step the Dense head, the loss and Adam (the step of ``benchmarks/speed.py``);
- **around, no-op kernel**: the same, measured on a second model whose compiled calls are no-ops, its
  calls back to back, so that nothing runs between two passes over the same Python and torch code.

The last column, "around" minus "around, no-op kernel", is what the time loop costs the code after it. On
a machine where caches and branch predictors keep their state across a millisecond of other work it is
near zero; on session 10's virtual machine any millisecond of other work (even a Python busy loop) left
torch's per-call paths several times slower on their next call, and this column was a tenth to two thirds
of "around" (docs/native.md). torch.nn.LSTM's whole call is printed beside it, measured in the same repeats.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import CONFIGS, positive_int, time_infer, time_train


class KernelClock:
    """Stands in for the compiled module: its forward and backward timed (or skipped), the rest as is."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.seconds = 0.0
        self.timed = types.SimpleNamespace(**vars(module))
        self.timed.forward, self.timed.backward = self._timed("forward"), self._timed("backward")
        self.noop = types.SimpleNamespace(**vars(module))
        self.noop.forward = self.noop.backward = lambda *args: None

    def _timed(self, name: str) -> Callable[..., None]:
        call = getattr(self.module, name)

        def run(*args: object) -> None:
            start = time.perf_counter()
            call(*args)
            self.seconds += time.perf_counter() - start

        return run


def zero_accumulated_grad(p: torch.Tensor) -> None:
    """A parameter's gradient set to zeros once accumulated: a no-op backward leaves garbage, which Adam
    would read (and garbage can be denormal, slow for every operation on it)."""
    if p.grad is not None:
        p.grad.zero_()


def run_config(name: str, repeats: int, mode: str) -> None:
    from lstmkit.nn import LSTM
    from lstmkit.ops import native

    batch, steps, inputs, hidden = CONFIGS[name]
    torch.manual_seed(0)
    x, y = torch.randn(batch, steps, inputs), torch.randn(batch, 1)
    make = time_train if mode == "train" else time_infer
    args = (x, y) if mode == "train" else (x,)
    stub = LSTM(inputs, hidden, batch_first=True, backend="native")  # run with no-op compiled calls
    for p in stub.parameters():
        p.register_post_accumulate_grad_hook(zero_accumulated_grad)
    fns = {
        "torch": make(nn.LSTM(inputs, hidden, batch_first=True), *args),
        "native": make(LSTM(inputs, hidden, batch_first=True, backend="native"), *args),
        "noop": make(stub, *args),
    }
    clock = KernelClock(native._native)
    stand_in = {"torch": native._native, "native": clock.timed, "noop": clock.noop}
    samples: dict[str, list[float]] = {k: [] for k in (*fns, "kernel")}

    def sample(key: str, keep: bool) -> None:
        native._native = stand_in[key]
        clock.seconds = 0.0
        start = time.perf_counter()
        fns[key]()
        elapsed = time.perf_counter() - start
        if keep:
            samples[key].append(elapsed)
            if key == "native":
                samples["kernel"].append(clock.seconds)

    try:
        for repeat in range(repeats + 5):  # torch and native interleaved, so that drift hits both alike
            for key in ("torch", "native"):
                sample(key, repeat >= 5)
        for repeat in range(repeats + 5):  # the no-op model back to back: nothing runs in between
            sample("noop", repeat >= 5)
    finally:
        native._native = clock.module
    ms = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    around = ms["native"] - ms["kernel"]
    print(
        f"| {name} {mode} | {ms['torch']:.2f} | {ms['native']:.2f} ({ms['native'] / ms['torch']:.2f}x) | "
        f"{ms['kernel']:.2f} | {around:.2f} | {ms['noop']:.2f} | {around - ms['noop']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["C1", "C3"])
    parser.add_argument("--modes", nargs="+", choices=["train", "infer"], default=["train", "infer"])
    parser.add_argument("--repeats", type=positive_int, default=101)
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args()
    from lstmkit.ops.native import native_available

    if not native_available():
        raise SystemExit("the native kernel is not built: nothing to split (python -m lstmkit check)")
    torch.set_num_threads(args.threads)
    print(f"\n## torch {torch.__version__}, {args.threads} threads; median ms per call over {args.repeats}")
    print("| config | torch.nn.LSTM | native | kernel | around | around, no-op kernel | difference |")
    print("|---|---|---|---|---|---|---|")
    for name in args.configs:
        for mode in args.modes:
            run_config(name, args.repeats, mode)


if __name__ == "__main__":
    main()
