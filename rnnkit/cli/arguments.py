"""Argument types and flags shared by the commands.

Each type converts a flag's text and raises ``argparse.ArgumentTypeError`` with the reason,
which the parser turns into a one-line error naming the flag.
"""

from __future__ import annotations

import argparse
import math

from rnnkit.train.optimizers import OPTIMIZERS


def positive_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _parse(int, text, "an integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def probability(text: str) -> float:
    """A probability in [0, 1), such as a dropout rate."""
    value = _parse(float, text, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def decay(text: str) -> float:
    """A moving average's decay: strictly between 0 and 1, or 0 for no average."""
    value = _parse(float, text, "a number")
    if not (value == 0 or 0 < value < 1):
        raise argparse.ArgumentTypeError(
            f"must be above 0 and below 1 (e.g. 0.999), or 0 for none, got {text}"
        )
    return value


def _parse(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def add_optimizer_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, lr_help: str, eval_every_help: str
) -> None:
    """``--lr``, ``--optimizer``, ``--weight-decay``, ``--clip`` and ``--eval-every`` (None
    when not given)."""
    parser.add_argument("--lr", type=positive_float, help=f"learning rate ({lr_help})")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default adam")
    parser.add_argument(
        "--weight-decay",
        type=non_negative_float,
        help="shrink every weight by lr * this each step (AdamW with adam; default 0)",
    )
    parser.add_argument(
        "--clip", type=non_negative_float, help="max global gradient norm; 0: none (default 5)"
    )
    parser.add_argument(
        "--eval-every",
        type=positive_int,
        metavar="N",
        help="validate, keep the best model, adjust the learning rate and save every N steps "
        f"({eval_every_help})",
    )


def add_ema_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--ema DECAY`` (None when not given): validate and keep the averaged weights."""
    parser.add_argument(
        "--ema",
        type=decay,
        metavar="DECAY",
        help="validate, and keep as the best model, the exponential moving average of the "
        "weights with this decay per step, e.g. 0.999 (default 0: the weights as trained)",
    )


def add_budget_arguments(parser: argparse.ArgumentParser, default_seconds: int) -> None:
    """``--max-steps`` and ``--max-time``, which count the whole run across resumes."""
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        metavar="N",
        help="stop after N optimizer steps in all (steps before a --resume count)",
    )
    parser.add_argument(
        "--max-time",
        type=positive_float,
        metavar="SECONDS",
        help=f"stop after SECONDS of training in all (default {default_seconds} when neither "
        "--max-steps nor --max-time is given; time before a --resume counts)",
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out``, ``--resume`` and ``--seed``."""
    parser.add_argument(
        "--out", metavar="DIR", help="run folder to write (default runs/<kind>-<date>-<time>)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out DIR exactly where its last checkpoint left off, with "
        "the run's own settings (flags that contradict them are refused)",
    )
    parser.add_argument("--seed", type=non_negative_int, help="random seed (default 0)")


def add_model_folder_argument(parser: argparse.ArgumentParser) -> None:
    """The positional DIR (``args.folder``) of the commands that use a trained model."""
    parser.add_argument(
        "folder",
        metavar="DIR",
        help="a run folder written by training (its best model is used when it has one), "
        "or a checkpoint folder such as DIR/best",
    )
