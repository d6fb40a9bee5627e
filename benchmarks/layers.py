"""Forward + backward time of rnnkit's RNN, LSTM and GRU layers against ``torch.nn``.

    python -m benchmarks.layers [--threads 2] [--repeats 7] [--quick]

float32, time-major, batch 32, length 64, input size = hidden size in {128, 256, 512}, the
same weights on both sides, the same thread count for torch and for NumPy's BLAS. One call
is a forward pass, a backward pass from a random output gradient (with the input gradient,
as when the layer sits on top of another) and a zero_grad. Each cell of the table is the
median time per call with the min-max over the repeats; the ratio is torch's median time
over rnnkit's, so above 1 means rnnkit is faster.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch

import rnnkit.nn
from benchmarks.timing import load_average, machine_header, set_threads, time_interleaved

BATCH = 32
LENGTH = 64
HIDDEN_SIZES = (128, 256, 512)
KINDS = ("RNN", "LSTM", "GRU")


def make_pair(kind: str, hidden_size: int) -> tuple[rnnkit.nn.RNN, torch.nn.Module]:
    """An rnnkit layer and a torch layer holding the same float32 weights."""
    ours = getattr(rnnkit.nn, kind)(hidden_size, hidden_size, rng=0)
    theirs = getattr(torch.nn, kind)(hidden_size, hidden_size)
    theirs.load_state_dict({name: torch.from_numpy(v) for name, v in ours.state_dict().items()})
    return ours, theirs


def training_calls(kind: str, hidden_size: int) -> dict[str, Callable[[], object]]:
    """One forward + backward + zero_grad call for each side."""
    ours, theirs = make_pair(kind, hidden_size)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((LENGTH, BATCH, hidden_size), dtype=np.float32)
    grad_output = rng.standard_normal((LENGTH, BATCH, hidden_size), dtype=np.float32)
    x_torch = torch.from_numpy(x).requires_grad_(True)
    grad_output_torch = torch.from_numpy(grad_output)

    def rnnkit_call() -> None:
        ours.zero_grad()
        ours.forward(x)
        ours.backward(grad_output)

    def torch_call() -> None:
        theirs.zero_grad()
        x_torch.grad = None
        output, _ = theirs(x_torch)
        output.backward(grad_output_torch)

    return {"rnnkit": rnnkit_call, "torch": torch_call}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats of ~0.1 s each")
    args = parser.parse_args(argv)
    repeats, target = (3, 0.1) if args.quick else (args.repeats, 0.3)
    limits = set_threads(args.threads)  # noqa: F841  (held for the whole run)

    print("\n".join(machine_header()))
    print(
        f"\nforward + backward, float32, batch {BATCH}, length {LENGTH}, input = hidden, "
        f"{args.threads} thread(s), {repeats} interleaved repeats; ms per call, "
        "median (min-max); ratio = torch / rnnkit time (> 1: rnnkit faster)\n"
    )
    print("| layer | hidden | rnnkit ms | torch ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for kind in KINDS:
        for hidden_size in HIDDEN_SIZES:
            timings = time_interleaved(
                training_calls(kind, hidden_size), repeats, target_seconds=target
            )
            ours, theirs = timings["rnnkit"], timings["torch"]
            print(
                f"| {kind} | {hidden_size} | {ours.format()} | {theirs.format()} | "
                f"{theirs.median / ours.median:.2f} |",
                flush=True,
            )
    print(f"\nload average at end (1, 5, 15 min): {load_average()}")


if __name__ == "__main__":
    main()
