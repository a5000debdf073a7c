"""Long-time-lag tasks (adding, copy memory, temporal order) and the memory benchmark."""

from lstmkit.tasks.generators import (
    TaskData,
    adding_problem,
    copy_memory,
    copy_memory_baseline,
    temporal_order,
)
from lstmkit.tasks.memory import MemoryBenchConfig, RunResult, format_table, run_memory_benchmark, train_one

__all__ = [
    "MemoryBenchConfig",
    "RunResult",
    "TaskData",
    "adding_problem",
    "copy_memory",
    "copy_memory_baseline",
    "format_table",
    "run_memory_benchmark",
    "temporal_order",
    "train_one",
]
