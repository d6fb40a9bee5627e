"""Peak RSS of a few training steps of one side, in a process of its own.

    python -m benchmarks.peak_memory {rnnkit,torch} --config C --threads 2

Prints the peak resident set size in MiB. Run by ``benchmarks.speed``; a separate process
per side keeps one side's allocations (and torch's libraries) out of the other's peak.
"""

from __future__ import annotations

import argparse

from benchmarks.char_model import CONFIGS, CharModel, random_batch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("side", choices=("rnnkit", "torch"))
    parser.add_argument("--config", default="C", choices=sorted(CONFIGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    inputs, targets = random_batch(config)
    if args.side == "rnnkit":
        import threadpoolctl

        from rnnkit.nn import lstm_fused

        limits = threadpoolctl.threadpool_limits(limits=args.threads)  # noqa: F841
        lstm_fused.set_threads(args.threads)
        model = CharModel(config)
        for _ in range(args.steps):
            model.train_step(inputs, targets)
    else:
        import torch

        from benchmarks.torch_char_model import TorchCharModel

        torch.set_num_threads(args.threads)
        model = TorchCharModel(config)
        inputs, targets = torch.from_numpy(inputs), torch.from_numpy(targets)
        for _ in range(args.steps):
            model.train_step(inputs, targets)
    print(f"{peak_rss_mib():.0f}")


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that across fork and exec, so a child
    would report its parent's peak when the parent's is higher.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # the value is in kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak RSS needs Linux")


if __name__ == "__main__":
    main()
