"""Native kernel vs torch.nn.LSTM on CPU: training step and inference, ratios measured in one run.

Each repetition times every system once in turn (interleaved), so load from other processes hits all of
them alike; the table reports medians and the ratio to torch.nn.LSTM. GFLOP/s counts the LSTM's matrix
work (forward 2·B·T·4H·(I+H); a training step 3x that) against the ``torch.mm`` rate measured here.

    PYTHONPATH=src python benchmarks/native_speed.py [--configs C1 C2 C3] [--reps 15] [--variants]

On a machine shared with other work, ``--cpu-time`` measures instead the CPU time of the calling thread
with one thread for everyone (minimum over repetitions): a load-robust view of per-core efficiency.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from lstmkit.nn import LSTM
from lstmkit.ops.native import native_isa

CONFIGS = {"C1": (32, 100, 1, 50), "C2": (64, 100, 32, 256), "C3": (16, 500, 8, 128)}
VARIANTS = {
    "vanilla": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "coupled": {"coupled_gates": True},
    "projection": {"proj_size": 0},  # set per config to H // 2
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "zoneout": {"zoneout": 0.1},
    "lengths": {},
}


def step_fn(model: torch.nn.Module, x: torch.Tensor, train: bool, lengths: torch.Tensor | None = None):
    def run() -> None:
        if train:
            model.zero_grad(set_to_none=True)
            out, _ = model(x) if lengths is None else model(x, lengths=lengths)
            out.sum().backward()
        else:
            with torch.no_grad():
                model(x) if lengths is None else model(x, lengths=lengths)

    return run


CPU_TIME = False
"""Set by ``--cpu-time``: thread CPU time and minimum instead of wall time and median."""


def interleaved(fns: dict[str, Callable[[], None]], reps: int) -> dict[str, float]:
    clock = time.thread_time if CPU_TIME else time.perf_counter
    summary = min if CPU_TIME else statistics.median
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: summary(t) * 1e3 for name, t in times.items()}


def mm_rate() -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = min(interleaved({"mm": lambda: torch.mm(a, b)}, 5).values())
    return 2 * 2048**3 / (best * 1e-3) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", action="store_true", help="also time every variant against vanilla")
    parser.add_argument("--cpu-time", action="store_true", help="1 thread, thread CPU time, minimum")
    args = parser.parse_args()
    global CPU_TIME
    CPU_TIME = args.cpu_time
    torch.set_num_threads(1 if args.cpu_time else args.threads)
    rate = mm_rate()
    what = "1 thread, thread CPU time, minimum" if CPU_TIME else f"threads {args.threads}, wall time, median"
    print(f"{what}; native ISA {native_isa()}; torch.mm 2048^2: {rate:.0f} GFLOP/s")
    print(
        "| config | mode | torch ms | torch+flush ms | native ms | native/torch | native/torch+flush "
        "| native GFLOP/s | % of mm |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.configs:
        batch, steps, inputs, hidden = CONFIGS[name]
        torch.manual_seed(0)
        reference = torch.nn.LSTM(inputs, hidden)
        native = LSTM(inputs, hidden, backend="native")
        native.load_state_dict(reference.state_dict())
        x = torch.randn(steps, batch, inputs)
        flops = 2 * batch * steps * 4 * hidden * (inputs + hidden)
        for mode in ("train", "infer"):
            train = mode == "train"
            torch_fn, native_fn = step_fn(reference, x, train), step_fn(native, x, train)

            def flushed(fn: Callable[[], None] = torch_fn) -> None:
                torch.set_flush_denormal(True)
                fn()
                torch.set_flush_denormal(False)

            ms = interleaved({"torch": torch_fn, "flush": flushed, "native": native_fn}, args.reps)
            gflops = flops * (3 if train else 1) / (ms["native"] * 1e-3) / 1e9
            print(
                f"| {name} | {mode} | {ms['torch']:.2f} | {ms['flush']:.2f} | {ms['native']:.2f} "
                f"| {ms['native'] / ms['torch']:.2f} | {ms['native'] / ms['flush']:.2f} "
                f"| {gflops:.1f} | {100 * gflops / rate:.0f}% |",
                flush=True,
            )
        if args.variants:
            variants(name, batch, steps, inputs, hidden, args.reps)


def variants(name: str, batch: int, steps: int, inputs: int, hidden: int, reps: int) -> None:
    x = torch.randn(steps, batch, inputs)
    lengths = torch.randint(steps // 2, steps + 1, (batch,))
    lengths[0] = steps
    fns = {}
    for variant, options in VARIANTS.items():
        options = {"proj_size": hidden // 2} if variant == "projection" else options
        torch.manual_seed(0)
        model = LSTM(inputs, hidden, backend="native", **options)
        fns[variant] = step_fn(model, x, True, lengths if variant == "lengths" else None)
    ms = interleaved(fns, reps)
    print(f"\n{name} training step by variant (native): ms and ratio to vanilla")
    for variant, value in ms.items():
        print(f"  {variant:18s} {value:8.2f} ms  {value / ms['vanilla']:.2f}x")


if __name__ == "__main__":
    main()
