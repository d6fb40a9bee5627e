"""Parsing a documented command line with the parsers of the program it names, running
nothing: ``rnnkit``'s own, and those of the programs in ``benchmarks/`` and ``examples/``."""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from rnnkit.cli import train
from rnnkit.cli.flags import given_settings, new_settings, refuse_aliases_together
from rnnkit.cli.main import ArgumentParser, build_parser, parse_arguments
from rnnkit.config import validate
from rnnkit.train.tasks import TASKS
from tests.docs.markdown import ROOT
from tests.examples.loader import load_example


def parse_rnnkit(words: list[str]) -> argparse.ArgumentParser:
    """Parse ``rnnkit WORDS`` as ``rnnkit.cli.main`` does, and check a new run's settings
    as training would before its first step; return the parser that read WORDS. Raises
    ``UserError`` (a ``ConfigError`` for settings) with the command's own message.

    A resumed run's task is read from its folder, which the documentation's examples do
    not have: ``--resume`` lines are read with the task they name, or the default one."""
    if words and words[0] in (train.NAME, train.ALIAS):
        rest = words[1:] if words[0] == train.NAME else ["--task", "classify", *words[1:]]
        parser = train_parser(rest)
        refuse_aliases_together(rest)
        args = parser.parse_args(rest)
        if not args.resume:
            validate(new_settings(TASKS[args.task].config_class, given_settings(args)))
        return parser
    args = parse_arguments(words)
    return subparsers(build_parser())[args.command]


def train_parser(argv: list[str]) -> argparse.ArgumentParser:
    """``rnnkit train``'s parser for the task ARGV names (``--task``), or the default's."""
    first = ArgumentParser(add_help=False)
    first.add_argument("--task", choices=sorted(TASKS))
    known, _ = first.parse_known_args(argv)
    return train.build_parser(TASKS[known.task or train.DEFAULT_TASK], ArgumentParser)


def command_parser(words: list[str]) -> argparse.ArgumentParser | None:
    """The parser of the rnnkit command WORDS names (without parsing them), or None when
    WORDS name no command."""
    if words and words[0] in (train.NAME, train.ALIAS):
        return train_parser(words[1:] if words[0] == train.NAME else ["--task", "classify"])
    return subparsers(build_parser()).get(words[0] if words else "")


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def option_names(parser: argparse.ArgumentParser) -> set[str]:
    """The flags PARSER takes, with those of its subcommands."""
    names = set(parser._option_string_actions)
    for sub in subparsers(parser).values():
        names |= option_names(sub)
    return names


def unknown_flags(words: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The words of WORDS that look like flags PARSER does not take by that exact name
    (argparse would accept an abbreviation, which a reader should not copy)."""
    known = option_names(parser)
    return [w for w in words if w.startswith("--") and w.split("=", 1)[0] not in known]


def program_parser(main: Callable[[], object]) -> argparse.ArgumentParser:
    """The parser a program's MAIN builds, taken when MAIN asks it to parse: nothing of
    the program runs past building its parser."""

    class Built(Exception):  # noqa: N818 (not an error: the parser is ready)
        pass

    def stop(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise Built(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop):
        try:
            main()
        except Built as built:
            return built.args[0]
    raise AssertionError(f"{main.__module__}.main parsed no arguments")


def parse_program(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Parse ARGV with a program's PARSER; its error (argparse's usage message) is raised
    as an AssertionError."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parser.parse_args(argv)
        except SystemExit:
            raise AssertionError(err.getvalue().strip().splitlines()[-1]) from None


def load_program(words: list[str]) -> tuple[Callable[[], object] | None, Path, list[str]]:
    """For ``python WORDS`` (``-m benchmarks.X ...`` or ``examples/X.py ...``): the
    program's ``main`` (None for a module that is not imported here), its source file and
    its arguments."""
    if words[0] == "-m":
        module, argv = words[1], words[2:]
        path = ROOT / (module.replace(".", "/") + ".py")
        if module in TORCH_AT_IMPORT or not path.is_file():
            return None, path, argv
        return importlib.import_module(module).main, path, argv
    path, argv = ROOT / words[0], words[1:]
    if not path.is_file() or path.parent.name != "examples":
        return None, path, argv
    return load_example(path.stem).main, path, argv


# Benchmarks that import PyTorch when they load (seconds, more than this whole test may
# take): their command lines are checked against their source only (source_words).
TORCH_AT_IMPORT = {"benchmarks.lm", "benchmarks.seq2seq", "benchmarks.generate", "benchmarks.speed"}


def source_words(path: Path) -> set[str]:
    """Every string constant in the source at PATH: the flags, commands and choices a
    parser built there can take."""
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
