"""rnnkit against PyTorch on the CPU: training throughput, sampling latency, peak memory.

    python -m benchmarks.speed [--threads 2 1] [--repeats 7] [--quick] [--as-avx2]

``--as-avx2`` runs the benchmark as on a machine with AVX2 and FMA but no AVX-512, on an
AVX-512 machine: rnnkit's AVX2 loops, and every library on both sides held to AVX2
(``AVX2_ONLY``: OpenBLAS's Haswell kernels, torch's ATen, oneDNN and MKL at AVX2).

For each thread count (torch's and every BLAS pool's), in this one process:
- the float32 FMA peak (``peak``): register-only vector FMAs measured on every thread, the
  theoretical rate from the clock and vector width, and a large square GEMM with NumPy's
  BLAS and torch's, for reference;
- a training step (forward, backward, global-norm clip, Adam) of a character language model
  (vocabulary 65: embedding -> recurrent layers -> linear -> softmax cross-entropy) at
  A) LSTM 128, 1 layer, batch 32, length 64; B) LSTM 256, 2 layers, 32 x 64; C) LSTM 512,
  2 layers, 64 x 100; and GRU and RNN at B: tokens/s, the ratio rnnkit / torch, the
  matrix-multiply FLOP/s each side does (rnnkit's first layer folds the embedding in, so
  it does fewer) as a share of the FMA peak, and NumPy's GEMM of the
  model's own shape ``(T B, H) x (H, G H)`` as a share of it too;
- sampling 1,000 characters one at a time with batch 1 at B: microseconds per character
  for ``LanguageModel.generate`` (what ``rnnkit sample`` runs), torch's usual generation
  loop by default and with oneDNN off;
- one step of one row through the layers' own ``forward`` at B (LSTM and GRU, 2 x 256,
  eval mode), against ``torch.nn.LSTM`` / ``GRU`` under ``no_grad``; with 2 threads or
  more, again while another program keeps one core busy (``busy_core``), as on a shared
  machine;
- peak RSS of a few training steps at C, each side in a process of its own.
The sides are timed alternately (see ``timing``); every cell is a median with the min-max.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

import rnnkit.nn
from benchmarks.char_model import CONFIGS, VOCABULARY, CharModel, Config, random_batch
from benchmarks.peak import measured_fma_peak, model_gemm_peak, theoretical_fma_peak
from benchmarks.timing import (
    Timing,
    load_average,
    machine_header,
    set_threads,
    time_interleaved,
)
from benchmarks.torch_char_model import TorchCharModel
from rnnkit.models import LanguageModel
from rnnkit.nn import c_binding

SAMPLE_LENGTH = 1000
# What holds every library of the benchmark to AVX2 + FMA, read when each loads.
AVX2_ONLY = {
    "RNNKIT_KERNEL": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def gemm_peak(size: int, repeats: int) -> dict[str, float]:
    """FLOP/s of a ``size`` x ``size`` float32 matmul, NumPy's BLAS and torch's (median)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    a_torch, b_torch, out_torch = torch.from_numpy(a), torch.from_numpy(b), torch.empty(size, size)
    timings = time_interleaved(
        {
            "numpy": lambda: np.matmul(a, b, out=out),
            "torch": lambda: torch.matmul(a_torch, b_torch, out=out_torch),
        },
        repeats,
    )
    return {name: 2 * size**3 / timing.median for name, timing in timings.items()}


def training_pair(config: Config) -> tuple[dict[str, Callable[[], object]], float, float]:
    """Both sides' training steps from the same weights, and their first losses."""
    ours = CharModel(config)
    theirs = TorchCharModel(config)
    theirs.load_numpy(ours.state_dict())
    inputs, targets = random_batch(config)
    inputs_torch, targets_torch = torch.from_numpy(inputs), torch.from_numpy(targets)
    first_losses = ours.train_step(inputs, targets), theirs.train_step(inputs_torch, targets_torch)
    sides = {
        "rnnkit": lambda: ours.train_step(inputs, targets),
        "torch": lambda: theirs.train_step(inputs_torch, targets_torch),
    }
    return sides, *first_losses


def sampling_sides(count: int) -> dict[str, Callable[[], object]]:
    """Generate ``count`` characters at config B, batch 1, on each side."""
    config = CONFIGS["B"]
    size = config.hidden_size
    # What ``rnnkit sample`` runs: the library's language model and its generate loop.
    ours = LanguageModel(VOCABULARY, size, size, config.num_layers, cell=config.cell.lower())
    ours.load_state_dict(CharModel(config).state_dict())
    theirs = TorchCharModel(config)
    theirs.load_numpy(ours.state_dict())
    rng = np.random.default_rng(0)
    generator = torch.Generator().manual_seed(0)

    def rnnkit_sample() -> None:
        for _ in ours.generate([0], count, temperature=1.0, rng=rng):
            pass

    def torch_without_onednn() -> None:
        # Setting the flags makes torch warn about TF32 on Intel GPUs, which is irrelevant.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                theirs.sample(0, count, generator)

    return {
        "rnnkit": rnnkit_sample,
        "torch": lambda: theirs.sample(0, count, generator),
        "torch, oneDNN off": torch_without_onednn,
    }


def layer_step_sides(kind: str) -> dict[str, Callable[[], object]]:
    """One step of one row through ``forward`` of a 2 x 256 layer (config B), each side,
    carrying the state from call to call."""
    ours = getattr(rnnkit.nn, kind)(256, 256, num_layers=2, rng=0).eval()
    theirs = getattr(torch.nn, kind)(256, 256, num_layers=2).eval()
    theirs.load_state_dict({name: torch.from_numpy(v) for name, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 1, 256)).astype(np.float32)
    x_torch = torch.from_numpy(x)
    state: dict[str, object] = {"rnnkit": None, "torch": None}

    def rnnkit_step() -> None:
        _, state["rnnkit"] = ours.forward(x, state["rnnkit"])

    def torch_step() -> None:
        with torch.no_grad():
            _, state["torch"] = theirs(x_torch, state["torch"])

    return {"rnnkit": rnnkit_step, "torch": torch_step}


@contextmanager
def busy_core(busy: bool = True) -> Iterator[None]:
    """Inside the block, another program keeps one core busy (a Python loop), if BUSY."""
    if not busy:
        yield
        return
    # a minute at most: it ends by itself should this process be killed
    program = "import time\nend = time.time() + 60\nwhile time.time() < end: pass"
    loop = subprocess.Popen([sys.executable, "-c", program])
    try:
        time.sleep(0.2)  # until it runs
        yield
    finally:
        loop.kill()
        loop.wait()


def per_second(amount: float, timing: Timing) -> str:
    """``amount`` per second at the median time, with the range over the repeats."""
    return f"{amount / timing.median:,.0f} ({amount / timing.high:,.0f}-{amount / timing.low:,.0f})"


def gflops(config: Config, timing: Timing, peak: float, folded: bool = False) -> str:
    """The model's matmul GFLOP/s at the median time, and that as a percentage of ``peak``
    (``folded``: the products rnnkit does, see ``Config.matmul_flops_per_step``)."""
    value = config.matmul_flops_per_step(folded) / timing.median
    return f"{value / 1e9:.0f} ({100 * value / peak:.0f}%)"


def peak_rss(side: str, threads: int) -> str:
    """Peak RSS in MiB of a training run at config C, measured in a child process."""
    command = [sys.executable, "-m", "benchmarks.peak_memory", side, "--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def run(threads: int, repeats: int, quick: bool) -> None:
    limits = set_threads(threads)  # noqa: F841  (held until the next thread count)
    print(f"\n## {threads} thread(s)\n")
    measured, theoretical = measured_fma_peak(threads), theoretical_fma_peak(threads)
    # the larger: a clock above the one /proc/cpuinfo reports makes the measured one larger
    peak = max(measured, theoretical)
    square = gemm_peak(1024 if quick else 2048, repeats)
    print(
        f"float32 FMA peak ({c_binding.kernel()} vectors): measured {measured / 1e9:.0f} "
        f"GFLOP/s, theoretical {theoretical / 1e9:.0f} GFLOP/s (clock x 2 pipes x lanes x 2); "
        f"square GEMM: NumPy {square['numpy'] / 1e9:.0f}, torch {square['torch'] / 1e9:.0f} "
        "GFLOP/s\n"
    )

    print(
        "Training step (tokens/s, median (min-max); ratio = rnnkit / torch; GFLOP/s of the "
        "model's matmuls and % of the FMA peak; NumPy's GEMM of the model's shape, % of peak)\n"
    )
    print(
        "| config | rnnkit tokens/s | torch tokens/s | ratio | rnnkit GFLOP/s (% peak) "
        "| torch GFLOP/s (% peak) | model-shape GEMM (% peak) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, config in CONFIGS.items():
        sides, loss_ours, loss_theirs = training_pair(config)
        if abs(loss_ours - loss_theirs) > 1e-4 * abs(loss_theirs):
            raise RuntimeError(f"{name}: first losses differ: {loss_ours} vs {loss_theirs}")
        timings = time_interleaved(sides, repeats, warmup=1, target_seconds=0.2 if quick else 0.5)
        ours, theirs = timings["rnnkit"], timings["torch"]
        tokens = config.tokens_per_step
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[config.cell]
        shape_gemm = model_gemm_peak(tokens, config.hidden_size, gates, repeats)
        label = (
            f"{name} {config.cell} {config.hidden_size}x{config.num_layers} "
            f"b{config.batch} t{config.length}"
        )
        print(
            f"| {label} | {per_second(tokens, ours)} | {per_second(tokens, theirs)} "
            f"| {theirs.median / ours.median:.2f} "
            f"| {gflops(config, ours, peak, folded=True)} | {gflops(config, theirs, peak)} "
            f"| {shape_gemm / 1e9:.0f} ({100 * shape_gemm / peak:.0f}%) |",
            flush=True,
        )

    count = 200 if quick else SAMPLE_LENGTH
    print(
        f"\nSampling {count} characters, batch 1, config B (µs per character, median (min-max))\n"
    )
    print("| side | µs/char | torch / rnnkit |")
    print("| --- | ---: | ---: |")
    timings = time_interleaved(sampling_sides(count), repeats, warmup=1, target_seconds=0.0)
    ours = timings["rnnkit"]
    for side, timing in timings.items():
        per_char = Timing([value / count for value in timing.seconds])
        print(
            f"| {side} | {per_char.format(scale=1e6, digits=0)} "
            f"| {timing.median / ours.median:.1f} |",
            flush=True,
        )

    print("\nOne step of one row through forward, 2 x 256, eval (µs per step, median (min-max))\n")
    print("| layer | rnnkit | torch | ratio |")
    print("| --- | ---: | ---: | ---: |")
    busy_cases = [False, True] if threads > 1 else [False]
    for busy, kind in itertools.product(busy_cases, ("LSTM", "GRU")):
        with busy_core(busy):
            steps = time_interleaved(
                layer_step_sides(kind), repeats, warmup=20, target_seconds=0.1
            )
        ours, theirs = steps["rnnkit"], steps["torch"]
        name = f"{kind}, one core busy" if busy else kind
        print(
            f"| {name} | {ours.format(scale=1e6, digits=1)} | {theirs.format(scale=1e6, digits=1)} "
            f"| {theirs.median / ours.median:.2f} |",
            flush=True,
        )

    ours_rss, theirs_rss = peak_rss("rnnkit", threads), peak_rss("torch", threads)
    print(f"\nPeak RSS, 3 training steps at C: rnnkit {ours_rss} MiB, torch {theirs_rss} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats, shorter runs")
    parser.add_argument(
        "--as-avx2", action="store_true", help="every library held to AVX2 (see above)"
    )
    args = parser.parse_args(argv)
    if args.as_avx2 and any(os.environ.get(k) != v for k, v in AVX2_ONLY.items()):
        # The libraries read these when they load, which they did: start again with them.
        given = sys.argv[1:] if argv is None else argv
        command = [sys.executable, "-m", "benchmarks.speed", *given]
        os.execve(sys.executable, command, {**os.environ, **AVX2_ONLY})
    repeats = 3 if args.quick else args.repeats
    print("\n".join(machine_header()))
    if args.as_avx2:
        held = ", ".join(f"{k}={v}" for k, v in AVX2_ONLY.items())
        aten = torch.backends.cpu.get_cpu_capability()
        print(f"held to AVX2 + FMA: {held}; torch's ATen runs {aten}")
    for threads in args.threads:
        run(threads, repeats, args.quick)
    print(f"\nload average at end (1, 5, 15 min): {load_average()}")


if __name__ == "__main__":
    main()
