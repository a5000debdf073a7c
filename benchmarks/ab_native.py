"""Two builds of the compiled core side by side in one process: is a kernel change faster?

    cp src/lstmkit/ops/_native*.so /tmp/before/        # keep the build you start from
    # ... change csrc/, rebuild: python setup.py build_ext --inplace
    python benchmarks/ab_native.py /tmp/before/_native*.so
    python benchmarks/ab_native.py /tmp/before/_native*.so --configs C1 C3 --variants layer_norm zoneout

On this project's virtual machines two runs of the same build in separate processes differ by 5-30%, so
a change worth a few percent cannot be seen by comparing two ``speed.py`` runs. Here the build under test
(the installed ``lstmkit.ops._native``, "new") and another (the ``.so`` given, "old") serve the same
models in turn: within each repeat every (build, model) pair runs ``--calls`` steps back to back, so drift
hits all of them alike, and the two builds take turns going first. The kernel is swapped at the module
level (``lstmkit.ops.native._native``), which every sequence call goes through (a streaming step keeps the
module it was packed with, so streaming is not compared here); the Python around it is the same code.

Printed per configuration, mode and model (vanilla, then each ``--variants`` entry of ``speed.py``): the
median milliseconds per step under each build, new / old (below 1: the new build is faster), and each
variant's time over vanilla's under each build (the issue's "every variant at most 1.25x" ratio).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import CONFIGS, VARIANTS, positive_int, time_infer, time_train


def load_build(path: Path) -> ModuleType:
    """The compiled core at ``path`` as a module of its own (dlopen of another file: another copy)."""
    name = "lstmkit.ops._native"  # the init function's name follows the last component
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise SystemExit(f"{path}: not a loadable extension module")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def variant_options(variant: str, hidden: int) -> dict[str, object]:
    if variant == "vanilla":
        return {}
    if variant == "projection":
        return {"proj_size": hidden // 2}
    return dict(VARIANTS[variant])


def run(
    config: str, mode: str, variants: list[str], builds: dict[str, ModuleType], args: argparse.Namespace
) -> None:
    from lstmkit.nn import LSTM
    from lstmkit.ops import native

    batch, steps, inputs, hidden = CONFIGS[config]
    torch.manual_seed(0)
    x, y = torch.randn(batch, steps, inputs), torch.randn(batch, 1)
    fns: dict[str, Callable[[], None]] = {}
    for variant in ["vanilla", *variants]:
        module = LSTM(inputs, hidden, batch_first=True, backend="native", **variant_options(variant, hidden))
        fns[variant] = time_train(module, x, y) if mode == "train" else time_infer(module, x)
    samples: dict[tuple[str, str], list[float]] = {(b, v): [] for b in builds for v in fns}
    calls = args.calls or (10 if config == "C1" else 2)
    try:
        for repeat in range(args.warmup + args.repeats):
            order = list(builds.items())
            for build, module in order if repeat % 2 else order[::-1]:  # neither build always first
                native._native = module
                for variant, fn in fns.items():
                    start = time.perf_counter()
                    for _ in range(calls):
                        fn()
                    if repeat >= args.warmup:
                        samples[(build, variant)].append((time.perf_counter() - start) / calls * 1e3)
    finally:
        native._native = builds["new"]
    ms = {k: statistics.median(v) for k, v in samples.items()}
    for variant in fns:
        old, new = ms[("old", variant)], ms[("new", variant)]
        line = f"| {config} {mode} | {variant} | {old:.3f} | {new:.3f} | {new / old:.3f} |"
        if variant != "vanilla":
            line += f" {old / ms[('old', 'vanilla')]:.3f} | {new / ms[('new', 'vanilla')]:.3f} |"
        else:
            line += " | |"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old", type=Path, help="the other build's _native*.so (the baseline)")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["C1"])
    parser.add_argument("--modes", nargs="+", choices=["train", "infer"], default=["train", "infer"])
    parser.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), default=["layer_norm", "zoneout"])
    parser.add_argument("--repeats", type=positive_int, default=41)
    parser.add_argument("--warmup", type=positive_int, default=5)
    parser.add_argument(
        "--calls", type=positive_int, default=None, help="steps per sample (10 at C1, else 2)"
    )
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args()
    from lstmkit.ops import native

    if not native.native_available():
        raise SystemExit("the native kernel is not built: nothing to compare (python -m lstmkit check)")
    if not args.old.is_file():
        raise SystemExit(f"{args.old}: no such file (the baseline build's _native*.so)")
    if args.old.resolve() == Path(native._native.__file__).resolve():
        raise SystemExit(f"{args.old} is the installed build itself: copy a baseline elsewhere first")
    torch.set_num_threads(args.threads)
    builds = {"old": load_build(args.old), "new": native._native}
    print(
        f"\n## {args.old} (old) against the installed build (new); {args.threads} threads, median ms a step"
    )
    print("| config | model | old | new | new / old | variant / vanilla, old | variant / vanilla, new |")
    print("|---|---|---|---|---|---|---|")
    for config in args.configs:
        for mode in args.modes:
            run(config, mode, args.variants, builds, args)


if __name__ == "__main__":
    main()
