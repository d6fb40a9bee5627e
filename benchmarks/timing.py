"""Timing helpers shared by the benchmarks: thread limits, interleaved repeats, summaries.

The machine the benchmarks run on is shared and noisy, so the two sides of a comparison are
timed alternately (rnnkit, torch, rnnkit, torch, ...) rather than one after the other: a
burst of load from another process then hits both sides instead of skewing the ratio.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import threadpoolctl
import torch

from rnnkit.nn import c_binding


def set_threads(count: int) -> threadpoolctl.threadpool_limits:
    """Give torch, every BLAS/OpenMP pool in the process and rnnkit's C loops the same
    thread count.

    Keep the returned object alive: the limits hold until it is garbage collected.
    """
    torch.set_num_threads(count)
    c_binding.set_threads(count)
    return threadpoolctl.threadpool_limits(limits=count)


@dataclass
class Timing:
    """Seconds per call of each repeat."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def low(self) -> float:
        return min(self.seconds)

    @property
    def high(self) -> float:
        return max(self.seconds)

    def format(self, scale: float = 1e3, digits: int = 2) -> str:
        """``median (min-max)`` in units of ``1 / scale`` seconds (milliseconds by default)."""
        return (
            f"{self.median * scale:.{digits}f} "
            f"({self.low * scale:.{digits}f}-{self.high * scale:.{digits}f})"
        )


def calls_per_repeat(run: Callable[[], object], target_seconds: float) -> int:
    """How many calls of ``run`` fill about ``target_seconds`` (at least one)."""
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    return max(1, round(target_seconds / max(elapsed, 1e-9)))


# Pause between two sides' repeats. Idle BLAS and OpenMP worker threads keep spinning for
# a while after their last job (OpenBLAS for about 2^28 cycles, ~0.1 s) and would steal a
# core from the other side's first calls.
SETTLE_SECONDS = 0.15


def time_interleaved(
    sides: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int = 2,
    target_seconds: float = 0.3,
) -> dict[str, Timing]:
    """Time each side ``repeats`` times, alternating sides, after ``warmup`` calls of each.

    A repeat runs a side enough calls to take about ``target_seconds`` (counted once, after
    the warm-up) and records the mean time per call; the medians are then robust to the
    machine's noise. Sides are separated by ``SETTLE_SECONDS`` of sleep.
    """
    for run in sides.values():
        for _ in range(warmup):
            run()
    counts = {name: calls_per_repeat(run, target_seconds) for name, run in sides.items()}
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for repeat in range(repeats):
        # Alternate which side goes first, so neither always follows the other's cache state.
        order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
        for name in order:
            run, count = sides[name], counts[name]
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            for _ in range(count):
                run()
            seconds[name].append((time.perf_counter() - start) / count)
    return {name: Timing(values) for name, values in seconds.items()}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_description() -> str:
    """The BLAS libraries loaded in this process, with their thread counts."""
    parts = []
    for info in threadpoolctl.threadpool_info():
        name = info.get("internal_api", "?")
        version = info.get("version") or ""
        parts.append(
            f"{name} {version} ({info.get('user_api')}, {info.get('num_threads')} threads)"
        )
    return "; ".join(parts)


def load_average() -> str:
    try:
        with open("/proc/loadavg") as loadavg:
            return " ".join(loadavg.read().split()[:3])
    except OSError:
        return "unknown"


VECTOR_FLAGS = ("avx512f", "avx2", "fma", "asimd")  # x86-64 and ARM64 (NEON) names


def vector_extensions() -> str:
    """The CPU's float vector extensions that matter here, from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("flags", "Features")):
                    flags = set(line.split(":", 1)[1].split())
                    return ", ".join(flag for flag in VECTOR_FLAGS if flag in flags) or "none"
    except OSError:
        pass
    return "unknown"


def machine_header() -> list[str]:
    return [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; vector extensions: "
        f"{vector_extensions()}; rnnkit's C loops: {c_binding.kernel()} "
        f"(built: {', '.join(c_binding.built()) or 'none'})",
        f"numpy {np.__version__}, torch {torch.__version__}, Python {platform.python_version()}",
        f"BLAS: {blas_description()}",
        f"load average at start (1, 5, 15 min): {load_average()}",
    ]
