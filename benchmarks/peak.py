"""The machine's float32 multiply-add peak, three ways, for the benchmarks' "% of peak".

- measured: register-only vector FMAs in the instruction set the C loops run
  (``rnnkit_fma_peak``), on every thread at once: what a product tile could reach at most;
- theoretical: clock x FMA pipes x vector lanes x 2 x threads, from the clock in
  /proc/cpuinfo (the current one: turbo or a busy neighbour move it) with 2 FMA pipes,
  which both vendors' server cores have (on AMD's Zen 4, AVX-512 runs as two halves:
  8 lanes per pipe);
- a GEMM of the model's own shape, ``(T B, H) x (H, G H)``, with NumPy's BLAS.

A square GEMM of 2048 is a poor yardstick: at the models' sizes no BLAS reaches it, and on
a CPU whose BLAS uses only AVX2 its rate can sit below what the FMA units do.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from benchmarks.timing import time_interleaved
from rnnkit.nn import c_binding

LANES = {"avx512": 16, "avx2": 8, "generic": 4}


def measured_fma_peak(threads: int, seconds: float = 0.2, repeats: int = 10) -> float:
    """FLOP/s of register-only FMAs on ``threads`` threads at once: the best of ``repeats``,
    since on a shared machine a repeat only ever loses time to other processes."""
    if c_binding.LIBRARY is None or c_binding.kernel() == c_binding.NUMPY:
        return float("nan")
    rounds = 1_000_000
    start = time.perf_counter()
    c_binding.LIBRARY.rnnkit_fma_peak(rounds)
    rounds = max(rounds, int(rounds * seconds / (time.perf_counter() - start)))
    done: list[float] = []

    def run() -> None:
        done.append(c_binding.LIBRARY.rnnkit_fma_peak(rounds))

    best = 0.0
    for _ in range(repeats):
        done.clear()
        workers = [threading.Thread(target=run) for _ in range(threads)]
        start = time.perf_counter()
        for worker in workers:  # ctypes lets go of the GIL: the threads run side by side
            worker.start()
        for worker in workers:
            worker.join()
        best = max(best, sum(done) / (time.perf_counter() - start))
    return best


def cpuinfo_field(name: str) -> str:
    """The first value of ``name`` in /proc/cpuinfo ("" where there is none)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def theoretical_fma_peak(threads: int) -> float:
    """clock x 2 FMA pipes x float32 lanes per pipe x 2 FLOPs x threads, for the
    instruction set the C loops run (nan without a clock)."""
    clock = float(cpuinfo_field("cpu MHz") or "nan") * 1e6
    lanes = LANES.get(c_binding.kernel(), 4)
    if lanes == 16 and "AMD" in cpuinfo_field("vendor_id"):
        lanes = 8  # Zen 4 runs a 512-bit FMA as two 256-bit halves
    return clock * 2 * lanes * 2 * threads


def model_gemm_peak(rows: int, hidden: int, gates: int, repeats: int) -> float:
    """FLOP/s of NumPy's ``(rows, H) x (H, G H)`` float32 product (median)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, hidden), dtype=np.float32)
    b = rng.standard_normal((hidden, gates * hidden), dtype=np.float32)
    out = np.empty((rows, gates * hidden), np.float32)
    timing = time_interleaved({"numpy": lambda: np.matmul(a, b, out=out)}, repeats)["numpy"]
    return 2 * rows * hidden * gates * hidden / timing.median
