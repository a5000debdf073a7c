"""Memory of a training step (and of inference) of lstmkit's LSTM against torch.nn.LSTM, same configurations.

    python benchmarks/memory.py                          # C1-C3, torch / fused / native and the variants
    python benchmarks/memory.py --configs C1 --systems torch native variants:native

Two numbers per system, each in a fresh process (so one system's cached buffers do not serve another):
    saved  the bytes autograd keeps for the backward of one training step (every tensor saved by any node,
           counted once per storage, at the size of the storage: a view of a larger buffer holds all of it);
           the activation memory that grows with batch and sequence length
    peak   the growth of the process's peak resident memory over three steps (Linux VmHWM, reset after
           the set-up, before the first step): saved state, every transient buffer of the forward,
           backward and optimizer step (native scratch included) and what stays cached for the next
           step (lstmkit's buffer pool, the C library's heap)

The configurations and systems are those of ``benchmarks/speed.py``; ratios are to torch.nn.LSTM.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import CONFIGS, System, systems, time_infer, time_train

MB = 1 << 20


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _saved_bytes(step: object) -> int:
    """Bytes of the distinct storages autograd saves during one call of ``step``."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()  # type: ignore[operator]
    return sum(storages.values())


def child(system_name: str, config_name: str, mode: str, threads: int) -> dict[str, float]:
    """Measure one system in this process (run by the parent in a fresh interpreter)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    b, t, i, h = CONFIGS[config_name]
    match = [s for s in _all_systems(CONFIGS[config_name]) if s.name == system_name]
    if not match:
        raise SystemExit(f"unknown system {system_name!r}")
    module: nn.Module = match[0].build(i, h)
    x, y = torch.randn(b, t, i), torch.randn(b, 1)
    step = time_train(module, x, y) if mode == "train" else time_infer(module, x)
    before = _status_kb("VmRSS")  # before any step: what the steps and their caches add
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size
    for _ in range(3):
        step()
    peak = _status_kb("VmHWM") - before
    saved = _saved_bytes(step) if mode == "train" else 0
    return {"saved": saved / MB, "peak": max(peak, 0) / 1024}


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def _all_systems(config: tuple[int, int, int, int]) -> list[System]:
    names = ["torch", "auto", "fused", "native", "reference", "loop", "loop_ln"]
    return systems([*names, "variants:fused", "variants:native", "variants:reference"], config)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument(
        "--systems", nargs="+", default=["torch", "fused", "native", "variants:native"],
        help="torch, auto, fused, native, reference, loop, loop_ln, variants[:backend] (as in speed.py)",
    )  # fmt: skip
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("SYSTEM", "CONFIG", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.threads)))
        return
    if not Path("/proc/self/clear_refs").exists():
        raise SystemExit("memory.py reads Linux's /proc/self/status and /proc/self/clear_refs")
    from lstmkit.ops.dispatch import native_kernel

    names = [s for s in args.systems if native_kernel() is not None or "native" not in s]
    print(f"\n## torch {torch.__version__}, {args.threads} threads; MB; ratio to torch.nn.LSTM")
    for mode in args.modes:
        what = "saved for backward / peak growth" if mode == "train" else "peak growth"
        print(f"\n### {'training step' if mode == 'train' else 'inference forward'} ({what})")
        print("| system | " + " | ".join(args.configs) + " |")
        print("|" + "---|" * (len(args.configs) + 1))
        rows: dict[str, list[str]] = {}
        for cname in args.configs:
            base: dict[str, float] = {}
            for system in systems(names, CONFIGS[cname]):
                if mode == "infer" and "recurrent_dropout" in system.name:
                    continue
                cmd = [sys.executable, __file__, "--threads", str(args.threads)]
                cmd += ["--child", system.name, cname, mode]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                if system.name == "torch.nn.LSTM":
                    base = r
                cells = [f"{r[k]:.1f} ({_ratio(r[k], base.get(k))})" for k in ("saved", "peak")]
                rows.setdefault(system.name, []).append(" / ".join(cells) if mode == "train" else cells[1])
            print(f"<!-- {cname} done -->", file=sys.stderr)
        for name, cells in rows.items():
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
