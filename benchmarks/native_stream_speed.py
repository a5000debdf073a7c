"""Streaming step (C4: batch 1, 8 inputs, 128 units): microseconds per call from Python, medians.

PYTHONPATH=src python benchmarks/native_stream_speed.py [--calls 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from lstmkit.nn import LSTMCell
from lstmkit.ops.native_stream import NativeCellStep, NativeStream, native_cell_step


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(200):
        fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(8, 128)
    ours = LSTMCell(8, 128)
    ours.load_state_dict(cell.state_dict())
    x = torch.randn(1, 8)
    stream = NativeStream(NativeCellStep.from_module(cell), batch=1)
    state = (torch.zeros(1, 128), torch.zeros(1, 128))

    def torch_cell() -> None:
        with torch.no_grad():
            cell(x, state)

    rows = {
        "torch.nn.LSTMCell (no_grad)": per_call_us(torch_cell, args.calls),
        "NativeStream.step": per_call_us(lambda: stream.step(x), args.calls),
        "native_cell_step(lstmkit LSTMCell)": per_call_us(
            lambda: native_cell_step(ours, x, state), args.calls
        ),
    }
    print("| C4 streaming step | us per call (median) |\n|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.1f} |")


if __name__ == "__main__":
    main()
