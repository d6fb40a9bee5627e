"""Argument types and flags shared by the commands.

Each type converts a flag's text and raises ``argparse.ArgumentTypeError`` with the reason,
which the parser turns into a one-line error naming the flag.

The commands that use a trained model of any task (eval, predict, sample) keep a table of
task name -> the module that does the command for that task (its ``run(args, folder)``,
and its flags' group, ``add_arguments(parser)``, if it has one): ``add_part_arguments``
puts the groups on the command's parser, ``run_part`` hands the run folder to its task's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import UserError
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.run_config import model_folder, saved_task
from rnnkit.train.tasks import a_run_of

TASK_FLAGS = "task_flags"  # the parser default that marks flags as one task's (dest -> owner)


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


def integer(text: str) -> int:
    return _parse(int, text, "an integer")


def number(text: str) -> float:
    return _parse(float, text, "a number")


def _parse(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N``, which every command takes (BLAS and the C loops together)."""
    parser.add_argument(
        "--threads",
        type=positive_int,
        metavar="N",
        help="compute with at most N threads (BLAS and the C loops; default: all cores). "
        "On a busy machine, fewer threads than free cores is faster",
    )


def add_model_folder_argument(parser: argparse.ArgumentParser) -> None:
    """The positional DIR (``args.folder``) of the commands that use a trained model."""
    parser.add_argument(
        "folder",
        metavar="DIR",
        help="a run folder written by training (its best model is used when it has one), "
        "or a checkpoint folder such as DIR/best",
    )


def add_model_command(
    subparsers: argparse._SubParsersAction, name: str, help: str, description: str, **options: Any
) -> argparse.ArgumentParser:
    """The subparser of a command NAME that uses a trained model: HELP in the command list,
    DESCRIPTION (and argparse's OPTIONS such as ``epilog``) in its own help, and the
    positional DIR first."""
    parser = subparsers.add_parser(name, help=help, description=description, **options)
    add_model_folder_argument(parser)
    return parser


def add_json_flag(parser: argparse.ArgumentParser, help: str = "print one JSON object") -> None:
    """``--json`` (``args.json``): HELP says what is printed instead of the text."""
    parser.add_argument("--json", action="store_true", help=help)


def add_png_flag(
    group: Any, flag: str, drawing: str, needs: str = "matplotlib", more: str = ""
) -> None:
    """FLAG FILE: the picture file to draw DRAWING ("the backtest") into, which NEEDS
    matplotlib (and more); MORE ends the help. The picture takes the format the file name
    ends with (``rnnkit.train.figures.picture_format``)."""
    group.add_argument(
        flag,
        metavar="FILE",
        help=f"draw {drawing} into this file: a PNG, or the format its name ends with if "
        f"matplotlib writes it (.pdf, .svg, ...) (needs {needs}){more}",
    )


def read_as_in_training(error: Exception, format: str, what: str, flag: str) -> str:
    """ERROR's message, saying that the data was read in FORMAT, as the training WHAT were,
    and that FLAG reads another: a file in the other format reads as nonsense (CoNLL-U's
    "_" as a tag), and the user did not choose that format here."""
    return f"{error} (read as {format}, as the training {what}; {flag} reads another)"


def add_part_arguments(parser: argparse.ArgumentParser, parts: Mapping[str, Any]) -> None:
    """The flags of each module of PARTS (a task -> module table) that has some
    (``add_arguments``), in the table's order, each marked as its task's
    (``mark_task_flags``)."""
    for task, part in parts.items():
        if hasattr(part, "add_arguments"):
            before = len(parser._actions)
            part.add_arguments(parser)
            mark_task_flags(parser, task, parser._actions[before:])


def mark_task_flags(
    parser: argparse.ArgumentParser, task: str, actions: Sequence[argparse.Action]
) -> None:
    """Mark the flags of ACTIONS as for a run of TASK only: ``run_part`` refuses them, when
    given, for a run of another task (a part may read another's flag: ``SHARED_FLAGS``)."""
    owners = parser.get_default(TASK_FLAGS)
    if owners is None:
        owners = {}
        parser.set_defaults(**{TASK_FLAGS: owners})
    for action in actions:
        owners[action.dest] = (action.option_strings[0], task, action.default)


def run_part(
    args: argparse.Namespace,
    parts: Mapping[str, Any],
    other: Callable[[argparse.Namespace, Path, str], int] | None = None,
) -> int:
    """Run the module of PARTS (a task -> module table) for the task of the run in
    ``args.folder`` (``run(args, folder)``, FOLDER the checkpoint folder chosen from it);
    a task without one goes to OTHER ``(args, folder, task)``, or is refused."""
    folder = model_folder(args.folder)
    task = saved_task(load_checkpoint(folder), folder)
    refuse_other_tasks_flags(args, folder, task, getattr(parts.get(task), "SHARED_FLAGS", ()))
    if task in parts:
        return parts[task].run(args, folder)
    if other is None:
        raise UserError(f"{folder} holds a run of task {task!r}, which this rnnkit does not know")
    return other(args, folder, task)


def refuse_other_tasks_flags(
    args: argparse.Namespace, folder: Path, task: str, shared: Sequence[str] = ()
) -> None:
    """Refuse the flags given in ARGS that are for a run of another task than TASK, the
    task of the run in FOLDER (but the dests SHARED, which TASK's part reads too): left
    unread, they would change nothing while the user believes they did."""
    owners = getattr(args, TASK_FLAGS, None) or {}
    given = [
        (flag, owner)
        for dest, (flag, owner, default) in owners.items()
        if owner != task and dest not in shared and getattr(args, dest, default) != default
    ]
    if given:
        first = given[0][1]
        flags = ", ".join(flag for flag, owner in given if owner == first)
        raise UserError(f"{flags}: for {a_run_of(first)}; {folder} holds {a_run_of(task)}")
