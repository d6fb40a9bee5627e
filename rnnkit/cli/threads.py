"""``--threads N`` for every command: how many threads BLAS and the C loops use."""

from __future__ import annotations

import argparse


def positive_threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=positive_threads,
        metavar="N",
        help="compute with at most N threads (BLAS and the C loops; default: all cores). "
        "On a busy machine, fewer threads than free cores is faster",
    )
