"""``rnnkit``: the command line.

Each command is a module in ``rnnkit.cli`` with a ``NAME``, ``add_parser(subparsers)``
(which adds its ``argparse`` subparser) and ``run(args) -> int`` (the exit status). To add
a command, add its module to ``COMMANDS``.

``rnnkit train`` (and its alias ``train-classifier``) parses its own arguments, since its
flags depend on the task (``rnnkit.cli.train.run_command``).

Errors are reported here, once for every command: a ``UserError`` (bad input, bad flags,
a damaged checkpoint, a diverged run...) or an ``OSError`` (a file that cannot be read or
written) prints one line on stderr and exits with status 2, with no traceback; a setting
named in an error is written as its flag. Anything else is a bug and keeps its traceback.
A Ctrl-C that reaches here exits with 130.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.cli import evaluate, export, import_torch, info, inspect, predict, sample, train
from rnnkit.cli.arguments import add_threads_argument
from rnnkit.cli.flags import as_flags, flag_name, setting_names
from rnnkit.config import ConfigError
from rnnkit.ctrl_c import INTERRUPTED
from rnnkit.errors import UserError
from rnnkit.threads import limit_threads
from rnnkit.train.run_config import EDITED_CONFIG
from rnnkit.train.tasks import TASKS

COMMANDS = [sample, evaluate, predict, info, inspect, export, import_torch]

USAGE_ERROR = 2


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are ``UserError``s, reported in one line."""

    # The command whose help lists the flags: ``rnnkit train``'s depend on its task.
    help_command: str | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see {self.help_command or self.prog + ' --help'})")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks in NumPy: train, sample and evaluate models.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train.add_parser(subparsers)
    for command in COMMANDS:
        subparser = command.add_parser(subparsers)
        add_threads_argument(subparser)
        subparser.set_defaults(handler=command.run)
    return parser


def run(argv: list[str]) -> int:
    if argv and argv[0] in (train.NAME, train.ALIAS):
        rest = argv[1:] if argv[0] == train.NAME else ["--task", "classify", *argv[1:]]
        return train.run_command(rest, ArgumentParser, argv[0])
    args = parse_arguments(argv)
    with limit_threads(args.threads):
        return args.handler(args)


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """The arguments of every command but ``train`` (which parses its own): ARGV parsed,
    nothing run. Bad flags or values raise ``UserError``; ``--help`` exits.

    Args:
        argv: the words after ``rnnkit``, such as ``["predict", "runs/trec", "a text"]``.

    Outputs:
        The namespace, whose ``handler`` runs the command.
    """
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and isinstance(getattr(args, "texts", None), list):
        # argparse gives a positional list only the words before the first flag (predict
        # DIR --beam 5 "text" left "text" over): texts may come after the flags too, and
        # after "--" even those that start with a dash
        cut = extra.index("--") if "--" in extra else len(extra)
        args.texts.extend(w for w in extra[:cut] if not w.startswith("-"))
        args.texts.extend(extra[cut + 1 :])
        extra = [w for w in extra[:cut] if w.startswith("-")]
    if extra:
        parser.help_command = f"rnnkit {args.command} --help"
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ARGV (default: ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(argv)
    except SystemExit as exit:  # --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except BrokenPipeError:  # e.g. rnnkit sample DIR | head: the reader has all it wants
        silence_stdout()
        return 0
    except ConfigError as error:
        flag = flag_name(error.parameter.rsplit(".", 1)[-1])
        reason = as_flags(one_line_text(error.reason), SETTING_NAMES, error.settings)
        print(f"rnnkit: error: {flag}: {reason}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as error:
        print(f"rnnkit: error: {os_error_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except UserError as error:
        named = getattr(error, "settings", ())
        message = leading_flag(one_line(error))
        if EDITED_CONFIG not in message:  # config.json's keys are not flags
            message = as_flags(message, SETTING_NAMES, named)
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return INTERRUPTED


SETTING_NAMES = set().union(*(setting_names(task.config_class) for task in TASKS.values()))


def leading_flag(message: str) -> str:
    """MESSAGE with the setting it starts with (``fill: 2 missing values``) written as its
    flag, as errors below the command line name the parameter they are about first.

    Only that first word: the same word further on may be a column or a path the user
    gave (``target: no column 'target'``), and a file named like a setting is followed by
    its line number, not by a space (``test:2: the line is empty``).
    """
    first, colon, rest = message.partition(": ")
    return f"{flag_name(first)}: {rest}" if colon and first in SETTING_NAMES else message


def os_error_line(error: OSError) -> str:
    """An error of the system on a file the user named: the file, what went wrong (without
    Python's ``[Errno N]``) and what to check."""
    if error.filename is None or not error.strerror:
        return one_line(error)
    advice = ""
    if error.errno in (errno.ENOENT, errno.EACCES, errno.EISDIR, errno.ENOTDIR):
        advice = "; check the path, that its folder exists and that it may be read or written there"
    return one_line_text(f"{error.filename}: {error.strerror.lower()}{advice}")


def one_line(error: Exception) -> str:
    return one_line_text(str(error)) or type(error).__name__


def one_line_text(text: str) -> str:
    return " ".join(text.split())


def silence_stdout() -> None:
    """Send further output nowhere, so Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
