"""``rnnkit``: the command line.

Each command is a module in ``rnnkit.cli`` with a ``NAME``, ``add_parser(subparsers)``
(which adds its ``argparse`` subparser) and ``run(args) -> int`` (the exit status). To add
a command, add its module to ``COMMANDS``.

Errors are reported here, once for every command: a ``UserError`` (bad input, bad flags,
a damaged checkpoint, a diverged run...) or an ``OSError`` (a file that cannot be read or
written) prints one line on stderr and exits with status 2, with no traceback. Anything
else is a bug and keeps its traceback. A Ctrl-C that reaches here exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.cli import evaluate, predict, sample, train, train_classifier
from rnnkit.errors import UserError

COMMANDS = [train, sample, evaluate, train_classifier, predict]

USAGE_ERROR = 2
INTERRUPTED = 130  # the shell's convention: 128 + SIGINT


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose errors are ``UserError``s, reported in one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see {self.prog} --help)")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks in NumPy: train, sample and evaluate models.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        subparser = command.add_parser(subparsers)
        subparser.set_defaults(handler=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ARGV (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except SystemExit as exit:  # --help and --version
        return exit.code if isinstance(exit.code, int) else 0
    except BrokenPipeError:  # e.g. rnnkit sample DIR | head: the reader has all it wants
        silence_stdout()
        return 0
    except (UserError, OSError) as error:
        print(f"rnnkit: error: {one_line(error)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return INTERRUPTED


def one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def silence_stdout() -> None:
    """Send further output nowhere, so Python's flush at exit does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
