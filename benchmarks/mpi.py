"""Data-parallel training on MPI: 2 ranks x 1 thread against 1 process x 2 threads.

    python -m benchmarks.mpi [--steps 60] [--hidden 256] [--batch 32]

Trains the same character LSTM language model (2 layers of HIDDEN, the global batch BATCH
x 64 steps) through ``LMTrainer``: once as one process with 2 threads, once under
``mpiexec -n 2`` with 1 thread per rank, and reports tokens per second (after
``--warmup`` steps), the allreduce time per step (rank 0's wait in the gradient
``Iallreduce``: the transfer plus any time the other rank arrives later) and the
allreduce of the same buffer alone. Then a model of 8 and 64 ranks over a network.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEQ_LEN = 64


def train(args: argparse.Namespace, threads: int) -> dict[str, float]:
    """Train in this process (one rank of several under mpiexec); rank 0's figures."""
    from rnnkit.data.default_corpus import default_corpus_text
    from rnnkit.data.lm_batches import split_train_val
    from rnnkit.data.tokenizers import CharTokenizer
    from rnnkit.models import LanguageModel
    from rnnkit.threads import limit_threads
    from rnnkit.train import Budget, LMSettings, LMTrainer
    from rnnkit.train import distributed as mpi

    text = default_corpus_text(2_000_000)
    tokenizer = CharTokenizer().fit(text)
    train_ids, val_ids = split_train_val(tokenizer.encode(text), 0.01)
    model = LanguageModel(tokenizer.vocab_size, 128, args.hidden, num_layers=2, rng=0)
    settings = LMSettings(batch_size=args.batch, seq_len=SEQ_LEN, eval_every=10**9)
    folder = Path(tempfile.mkdtemp(prefix="rnnkit-mpi-"))
    world = mpi.world()
    with limit_threads(threads):
        trainer = LMTrainer(model, tokenizer, train_ids, val_ids, settings, folder)
        trainer.validate = lambda: None  # measure steps only
        trainer.train(Budget(max_steps=args.warmup))
        if world is not None:
            world.reduce_seconds, world.reductions = 0.0, 0
        started = time.perf_counter()
        trainer.train(Budget(max_steps=args.warmup + args.steps))
        seconds = time.perf_counter() - started
        result = {
            "tokens_per_second": args.steps * args.batch * SEQ_LEN / seconds,
            "step_ms": 1e3 * seconds / args.steps,
            "parameters": model.num_parameters(),
        }
        if world is not None:
            result["allreduce_ms"] = 1e3 * world.reduce_seconds / world.reductions
            buffer = np.zeros(model.num_parameters() + 1, dtype=np.float32)
            for _ in range(3):
                world.allreduce(buffer, "warm-up")
            world.barrier("timing")
            repeats = 20
            started = time.perf_counter()
            for _ in range(repeats):
                world.allreduce(buffer, "timing")
            result["allreduce_alone_ms"] = 1e3 * (time.perf_counter() - started) / repeats
    if world is None or world.rank == 0:
        shutil.rmtree(folder, ignore_errors=True)
        print(json.dumps(result), flush=True)
    return result


def ring_allreduce_seconds(
    ranks: int, message_bytes: int, latency: float, bandwidth: float
) -> float:
    """A ring allreduce: 2 (p - 1) messages of M / p bytes each, one after the other."""
    return 2 * (ranks - 1) * (latency + message_bytes / ranks / bandwidth)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--child", type=int, metavar="THREADS")
    args = parser.parse_args(argv)
    if args.child is not None:
        train(args, args.child)
        return
    from benchmarks.timing import machine_header

    for line in machine_header():
        print(line)
    common = ["-m", "benchmarks.mpi", "--steps", str(args.steps), "--warmup", str(args.warmup),
              "--hidden", str(args.hidden), "--batch", str(args.batch)]  # fmt: skip

    def last_json(command: list[str]) -> dict[str, float]:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    one = last_json([sys.executable, *common, "--child", "2"])
    mpiexec = shutil.which("mpiexec") or "mpiexec"
    two = last_json([mpiexec, "-n", "2", sys.executable, *common, "--child", "1"])
    message = 4 * (one["parameters"] + 1)
    print(f"LSTM 2 x {args.hidden}, {one['parameters']:,} parameters (a {message / 1e6:.2f} MB "
          f"float32 buffer), global batch {args.batch} x {SEQ_LEN}, {args.steps} steps")
    print("| run | tokens/s | ms per step | allreduce ms per step (in the step) | "
          "allreduce alone, ms |")  # fmt: skip
    print("|---|---|---|---|---|")
    print(f"| 1 process x 2 threads | {one['tokens_per_second']:,.0f} | "
          f"{one['step_ms']:.1f} | - | - |")  # fmt: skip
    print(f"| 2 ranks x 1 thread | {two['tokens_per_second']:,.0f} | {two['step_ms']:.1f} | "
          f"{two['allreduce_ms']:.2f} | {two['allreduce_alone_ms']:.3f} |")  # fmt: skip
    print(f"2 ranks / 1 process: {two['tokens_per_second'] / one['tokens_per_second']:.2f}x")
    # Weak scaling: each rank keeps the rows a rank has here; its compute is the step time
    # on 2 ranks less its allreduce.
    compute = (two["step_ms"] - two["allreduce_ms"]) / 1e3
    rows = args.batch // 2
    print(f"\nModel: {rows} rows per rank, compute {compute * 1e3:.1f} ms per step (measured), "
          "then a ring allreduce of the buffer, not overlapped")  # fmt: skip
    print("| ranks | network | allreduce ms | step ms | tokens/s | efficiency |")
    print("|---|---|---|---|---|---|")
    networks = {
        "10 Gb/s Ethernet (20 us)": (20e-6, 1.25e9),
        "100 Gb/s InfiniBand (2 us)": (2e-6, 12.5e9),
    }
    for ranks in (8, 64):
        for name, (latency, bandwidth) in networks.items():
            reduce = ring_allreduce_seconds(ranks, message, latency, bandwidth)
            step = compute + reduce
            tokens = ranks * rows * SEQ_LEN / step
            print(f"| {ranks} | {name} | {reduce * 1e3:.2f} | {step * 1e3:.1f} | {tokens:,.0f} | "
                  f"{compute / step:.0%} |")  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("RNNKIT_MPI_TIMEOUT", "600")
    main()
