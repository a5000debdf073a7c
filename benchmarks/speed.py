"""Speed of lstmkit's LSTM against torch.nn.LSTM, measured in the same run.

    python benchmarks/speed.py                 # full table, as users get torch, then with flush-denormal
    python benchmarks/speed.py --quick         # fewer repeats, C1 and C3 only
    python benchmarks/speed.py --configs C1 --systems torch fused native
    python benchmarks/speed.py --isa avx2      # the AVX2 build, also on a CPU that has AVX-512
    python benchmarks/speed.py --systems torch native bf16   # and both under bfloat16 autocast

Configurations (float32, 2 threads unless --threads):
    C1 batch 32, 100 steps, 1 input, 50 units (the origin text's model)
    C2 batch 64, 100 steps, 32 inputs, 256 units
    C3 batch 16, 500 steps, 8 inputs, 128 units
    C4 streaming: batch 1, 8 inputs, 128 units, one step per call with carried state (inference)

Rows: torch.nn.LSTM; lstmkit with each backend; each variant on the fused and native paths, and on the
reference backend, which is that variant written as a readable Python-loop cell trained by autograd (what
users write today); and two hand-written Python-loop cells (plain and layer-norm). ``bf16`` adds
torch.nn.LSTM and lstmkit's native LSTM under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (ours
multiplies in bfloat16 only where the CPU has AVX512-BF16; elsewhere its row is float32).

A training step is forward, Dense(1) on the last hidden state, MSE, backward and an Adam step (torch's
default on CPU, a loop of small ops per tensor; ``--fused-adam`` gives every system torch's fused one);
inference is the forward under ``torch.inference_mode``. Each number is the median over repeats after
warm-up, systems interleaved within each repeat so that drift hits all of them alike; a sample is the mean
of as many back-to-back calls as fill ``--sample-ms`` (one call for the long configurations). Ratios are
to torch.nn.LSTM in the same process. ``--flush-denormal`` sets ``torch.set_flush_denormal(True)`` before
any thread pool starts; without ``--no-flush-run`` the script also re-runs itself that way in a fresh
process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

CONFIGS = {"C1": (32, 100, 1, 50), "C2": (64, 100, 32, 256), "C3": (16, 500, 8, 128)}
STREAM = (1, 8, 128)
VARIANTS = {
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "recurrent_dropout": {"recurrent_dropout": 0.25},
    "zoneout": {"zoneout": 0.1},
    "coupled_gates": {"coupled_gates": True},
    "projection": {"proj_size": 0},  # filled per config: H // 2
}


class LoopCell(nn.Module):
    """What users write today: an LSTM cell in a Python loop, autograd, optional layer norm."""

    def __init__(self, input_size: int, hidden: int, layer_norm: bool = False) -> None:
        super().__init__()
        self.ih = nn.Linear(input_size, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden)
        self.hidden = hidden
        self.ln = (
            nn.ModuleList([nn.LayerNorm(4 * hidden), nn.LayerNorm(4 * hidden), nn.LayerNorm(hidden)])
            if layer_norm
            else None
        )

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # x (B, T, I)
        b = x.shape[0]
        h = x.new_zeros(b, self.hidden)
        c = x.new_zeros(b, self.hidden)
        xs = self.ih(x)
        outs = []
        for t in range(x.shape[1]):
            if self.ln is not None:
                gates = self.ln[0](xs[:, t]) + self.ln[1](self.hh(h))
            else:
                gates = xs[:, t] + self.hh(h)
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.ln[2](c) if self.ln is not None else c)
            outs.append(h)
        return torch.stack(outs, 1), (h.unsqueeze(0), c.unsqueeze(0))


class BF16(nn.Module):
    """``module`` run under ``torch.autocast("cpu", dtype=torch.bfloat16)``: torch's LSTM then runs oneDNN's
    bfloat16 kernel, lstmkit's native loop multiplies in bfloat16 where the CPU has AVX512-BF16."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.hidden_size = module_hidden(module)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y, (h, c) = self.module(x)
        return y.float(), (h.float(), c.float())  # torch's are bfloat16; the head after it is float32


@dataclass
class System:
    name: str
    build: Callable[[int, int], nn.Module]  # (input_size, hidden) -> module with batch_first=True


def systems(names: list[str], config: tuple[int, int, int, int]) -> list[System]:
    from lstmkit.nn import LSTM

    hidden = config[3]
    out: list[System] = []
    for name in names:
        if name == "torch":
            out.append(System("torch.nn.LSTM", lambda i, h: nn.LSTM(i, h, batch_first=True)))
        elif name == "loop":
            out.append(System("python-loop cell", lambda i, h: LoopCell(i, h)))
        elif name == "loop_ln":
            out.append(System("python-loop layer-norm cell", lambda i, h: LoopCell(i, h, layer_norm=True)))
        elif name in ("auto", "fused", "native", "reference"):
            out.append(
                System(f"lstmkit {name}", lambda i, h, b=name: LSTM(i, h, batch_first=True, backend=b))
            )
        elif name == "bf16":  # under CPU autocast to bfloat16, torch's and ours
            out.append(
                System("torch.nn.LSTM bf16 autocast", lambda i, h: BF16(nn.LSTM(i, h, batch_first=True)))
            )
            out.append(
                System(
                    "lstmkit native bf16 autocast",
                    lambda i, h: BF16(LSTM(i, h, batch_first=True, backend="native")),
                )
            )
        elif name.startswith("variants"):
            backend = name.split(":")[1] if ":" in name else "fused"
            for variant, options in VARIANTS.items():
                opts = dict(options)
                if variant == "projection":
                    opts["proj_size"] = hidden // 2
                out.append(
                    System(
                        f"lstmkit {backend} {variant}",
                        lambda i, h, o=opts, b=backend: LSTM(i, h, batch_first=True, backend=b, **o),
                    )
                )
        else:
            raise SystemExit(f"unknown system {name!r}")
    return out


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (0 repeats or threads would fail deep inside a run)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


FUSED_ADAM = False  # --fused-adam: torch's fused Adam (one kernel over all tensors) for every system


def time_train(module: nn.Module, x: Tensor, y: Tensor) -> Callable[[], None]:
    head = nn.Linear(getattr(module, "proj_size", 0) or module_hidden(module), 1)
    params = [*module.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, fused=FUSED_ADAM or None)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        _, (h, _) = module(x)
        loss = nn.functional.mse_loss(head(h[-1]), y)
        loss.backward()
        opt.step()

    return step


def module_hidden(module: nn.Module) -> int:
    return int(getattr(module, "hidden_size", getattr(module, "hidden", 0)))


def time_infer(module: nn.Module, x: Tensor) -> Callable[[], None]:
    module.eval()

    def step() -> None:
        with torch.inference_mode():
            module(x)

    return step


CLOCK = time.perf_counter  # --cpu-time switches to the calling thread's CPU time


def measure(
    fns: dict[str, Callable[[], None]], repeats: int, warmup: int, sample_s: float = 0.0
) -> dict[str, float]:
    """Median seconds per call (in ms) of each function, the functions interleaved within each repeat.

    With ``sample_s``, a sample is the mean over as many back-to-back calls as fill about that long
    (counted per function after the warm-up), so that a millisecond-long step is not at the mercy of
    one scheduler tick; the median is then taken over the samples.
    """
    number: dict[str, int] = {}
    for name, fn in fns.items():
        start = CLOCK()
        for _ in range(warmup):
            fn()
        each = (CLOCK() - start) / max(warmup, 1)
        number[name] = max(1, min(100, int(sample_s / each))) if sample_s and each > 0 else 1
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = CLOCK()
            for _ in range(number[name]):
                fn()
            samples[name].append((CLOCK() - start) / number[name])
    return {k: statistics.median(v) * 1e3 for k, v in samples.items()}


def mm_rate() -> float:
    """GFLOP/s of a 2048x2048 float32 torch.mm on this machine, now (best of 9)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(9):
        start = CLOCK()
        a @ b
        times.append(CLOCK() - start)
    return 2 * 2048**3 / min(times) / 1e9  # a ceiling: the best observed


def step_flops(config: tuple[int, int, int, int], train: bool) -> float:
    b, t, i, h = config
    forward = 2 * b * t * 4 * h * (i + h)
    return forward * (3 if train else 1)


def run_table(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = mm_rate()
    flush = "on" if args.flush_denormal else "off"
    clock = "CPU time of the calling thread" if args.cpu_time else "wall time"
    adam = "; fused Adam" if FUSED_ADAM else ""
    print(
        f"\n## torch {torch.__version__}, {args.threads} threads, {clock}, flush-denormal {flush}{adam}; "
        f"torch.mm 2048^2: {peak:.0f} GFLOP/s"
    )
    from lstmkit.ops.dispatch import native_status
    from lstmkit.ops.native import native_isa

    isa = native_isa()
    print(f"native kernel: {native_status()}" + (f", instruction set {isa}" if isa else ""))
    for mode in ("train", "infer"):
        if mode not in args.modes:
            continue
        print(
            f"\n### {'training step' if mode == 'train' else 'inference forward'} "
            "(median ms; ratio to torch.nn.LSTM; GFLOP/s, % of torch.mm)"
        )
        header = "| system | " + " | ".join(args.configs) + " |"
        print(header)
        print("|" + "---|" * (len(args.configs) + 1))
        rows: dict[str, list[str]] = {}
        medians: dict[str, dict[str, float]] = {}
        for cname in args.configs:
            config = CONFIGS[cname]
            b, t, i, h = config
            x = torch.randn(b, t, i)
            y = torch.randn(b, 1)
            fns: dict[str, Callable[[], None]] = {}
            for system in systems(args.systems, config):
                if (
                    mode == "infer"
                    and system.name.startswith("lstmkit")
                    and any(v in system.name for v in ("recurrent_dropout",))
                ):
                    continue
                torch.manual_seed(0)
                module = system.build(i, h)
                fns[system.name] = time_train(module, x, y) if mode == "train" else time_infer(module, x)
            reps = args.repeats if cname != "C3" else max(3, args.repeats // 2)
            result = measure(fns, reps, args.warmup, args.sample_ms / 1e3)
            base = result.get("torch.nn.LSTM")
            flops = step_flops(config, mode == "train")
            for name, ms in result.items():
                medians.setdefault(name, {})[cname] = ms
                ratio = f"{ms / base:.2f}x" if base else "-"
                rate = flops / (ms / 1e3) / 1e9
                rows.setdefault(name, []).append(
                    f"{ms:.1f} ms ({ratio}; {rate:.0f}, {100 * rate / peak:.0f}%)"
                )
            print(f"<!-- {cname} done -->", file=sys.stderr)
        for name, cells in rows.items():
            print(f"| {name} | " + " | ".join(cells) + " |")
        print_variant_ratios(medians, args.configs)
    if "stream" in args.modes:
        run_stream(args)


def print_variant_ratios(medians: dict[str, dict[str, float]], configs: list[str]) -> None:
    """Each variant's median over its own backend's plain LSTM in the same run (issue 5: at most 1.25x)."""
    lines = []
    for name, times in medians.items():
        backend, _, variant = name.removeprefix("lstmkit ").partition(" ")
        plain = medians.get(f"lstmkit {backend}")
        if variant not in VARIANTS or plain is None:
            continue
        cells = [f"{times[c] / plain[c]:.2f}x" if c in times and c in plain else "-" for c in configs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if lines:
        print("\n(variants against their backend's plain LSTM in this run)")
        print("| system | " + " | ".join(configs) + " |")
        print("|" + "---|" * (len(configs) + 1))
        print("\n".join(lines))


def run_stream(args: argparse.Namespace) -> None:
    from lstmkit.nn import LSTM, LSTMCell

    b, i, h = STREAM
    x = torch.randn(b, i)
    torch_cell = nn.LSTMCell(i, h).eval()
    ours_cell = LSTMCell(i, h).eval()
    ours_lstm = LSTM(i, h).eval()
    state_t = (torch.zeros(b, h), torch.zeros(b, h))
    state_l = (torch.zeros(1, b, h), torch.zeros(1, b, h))  # (layers, B, H) for LSTM.step

    def run_torch() -> None:
        with torch.inference_mode():
            torch_cell(x, state_t)

    def run_cell() -> None:
        with torch.inference_mode():
            ours_cell(x, state_t)

    def run_step() -> None:
        with torch.inference_mode():
            ours_lstm.step(x, state_l)

    fns = {"torch.nn.LSTMCell": run_torch, "lstmkit LSTMCell": run_cell, "lstmkit LSTM.step": run_step}
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is not None:  # the raw native step API, without a module around it
        from lstmkit.ops.native_stream import NativeCellStep, NativeStream

        stream = NativeStream(NativeCellStep.from_module(ours_cell))

        def run_stream_api() -> None:
            with torch.inference_mode():
                stream.step(x)

        fns["lstmkit NativeStream.step"] = run_stream_api
    calls = 200
    batched = {k: (lambda f=f: [f() for _ in range(calls)]) for k, f in fns.items()}
    result = measure(batched, args.repeats, 1)
    base = result["torch.nn.LSTMCell"]
    print(
        "\n### C4 streaming step (batch 1, 8 inputs, 128 units; "
        "median us per call; ratio to torch.nn.LSTMCell)"
    )
    print("| system | us per step | ratio |\n|---|---|---|")
    for name, ms in result.items():
        print(f"| {name} | {ms * 1e3 / calls:.1f} | {ms / base:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument(
        "--systems",
        nargs="+",
        default=[
            "torch",
            "auto",
            "fused",
            "native",
            "reference",
            "loop",
            "loop_ln",
            "variants:fused",
            "variants:native",
            "variants:reference",
        ],
        help="torch, auto, fused, native, reference, loop, loop_ln, bf16, variants[:backend]",
    )
    parser.add_argument(
        "--modes", nargs="+", default=["train", "infer", "stream"], choices=["train", "infer", "stream"]
    )
    parser.add_argument("--repeats", type=positive_int, default=9)
    parser.add_argument("--warmup", type=positive_int, default=2)
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=30.0,
        help="a sample averages back-to-back calls filling about this long (0: one call per sample)",
    )
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--quick", action="store_true", help="C1 and C3, 5 repeats")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="1 thread, CPU time of the calling thread: robust when other processes share the cores",
    )
    parser.add_argument(
        "--fused-adam",
        action="store_true",
        help="train every system with torch's fused Adam instead of its per-tensor default on CPU",
    )
    parser.add_argument(
        "--isa",
        help="run the native kernel on this instruction set (avx512, avx2, generic) instead of the CPU's "
        "best: the AVX2 build measured on an AVX-512 machine",
    )
    parser.add_argument("--flush-denormal", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-flush-run", action="store_true", help="skip the second, flush-denormal run")
    args = parser.parse_args()
    if args.flush_denormal:
        torch.set_flush_denormal(True)  # before any parallel region starts the thread pool
    if args.fused_adam:
        global FUSED_ADAM
        FUSED_ADAM = True
    if args.cpu_time:
        global CLOCK
        CLOCK = time.thread_time
        args.threads = 1
    if args.quick:
        args.configs, args.repeats = [c for c in args.configs if c != "C2"], 5
    from lstmkit.ops.dispatch import native_kernel

    if native_kernel() is None:
        args.systems = [s for s in args.systems if "native" not in s]
    elif args.isa:
        from lstmkit.ops.native import native_module

        module = native_module()
        if args.isa not in module.isas():
            parser.error(f"--isa {args.isa}: this CPU runs {', '.join(module.isas())}")
        module.set_isa(args.isa)
    run_table(args)
    if not args.flush_denormal and not args.no_flush_run:
        sys.stdout.flush()
        cmd = [sys.executable, *sys.argv, "--flush-denormal"]
        subprocess.run(cmd, check=True, env={**os.environ})


if __name__ == "__main__":
    main()
