"""The command lines and flags quoted in the documentation's text (inline code) exist:
each command line parses as in a shell block, each flag is one a program takes, and the
choices a page lists after a flag (``--lr-decay linear|cosine``) are that flag's."""

from __future__ import annotations

import importlib
import itertools
import re

import pytest

from rnnkit.cli import train
from rnnkit.cli.main import build_parser
from rnnkit.train.tasks import TASKS
from tests.docs.checks import check_command
from tests.docs.commands import command_parser, option_names, source_words, subparsers
from tests.docs.markdown import ROOT, inline_spans
from tests.docs.shell import commands

PROGRAMS = ("rnnkit ", "python ", "python3 ", "mpiexec ", "pip ")
# Command lines quoted in the text that are not whole commands: their command and flags
# are checked by name only, and why.
MENTIONS = {
    "rnnkit inspect DIR --text ... --png --html": "a synopsis naming flags without their values",
    "rnnkit train --task NAME": "NAME stands for any task",
    "rnnkit train [--task NAME]": "NAME stands for any task",
    "rnnkit train --data": "names a flag, in a sentence about it",
    "rnnkit eval --data": "names a flag, in a sentence about it",
    "python -m benchmarks.forecast DATASET": "DATASET stands for any of the benchmark's",
}
SPANS = [span for span in inline_spans() if span.text.startswith(PROGRAMS)]


def variants(text: str) -> list[str]:
    """The command lines a synopsis stands for: ``[X]`` given, each alternative of
    ``a|b``, and ``...`` (more arguments) left out."""
    text = re.sub(r"\[([^\]]*)\]", r"\1", text).replace("...", " ")
    words = [word.split("|") for word in text.split()]
    return [" ".join(choice) for choice in itertools.product(*words)]


def test_mentions_are_quoted() -> None:
    quoted = {span.text for span in SPANS}
    assert set(MENTIONS) <= quoted, f"no longer in the pages: {sorted(set(MENTIONS) - quoted)}"


@pytest.mark.parametrize("span", SPANS, ids=[f"{s.where} {s.text[:50]}" for s in SPANS])
def test_command_line(span) -> None:
    for line in variants(span.text):
        for words in commands(line):
            if span.text in MENTIONS or (len(words) == 2 and words[0] == "rnnkit"):
                check_names(span.where, words)  # a mention, or a command named alone
            else:
                check_command(span.where, words)


def check_names(where: str, words: list[str]) -> None:
    if words[:2] == ["rnnkit", train.NAME] and "--task" in words and not set(words) & set(TASKS):
        known = set().union(*(option_names(p) for p in every_parser()[-len(TASKS) :]))
    elif words[0] == "rnnkit":
        parser = command_parser(words[1:])
        assert parser is not None, f"{where}: rnnkit has no command {words[1]!r}"
        known = option_names(parser)
    else:
        known = source_words(ROOT / (words[2].replace(".", "/") + ".py"))
    unknown = [w for w in words if w.startswith("--") and w not in known]
    assert not unknown, f"{where}: {' '.join(words[:2])} has no flags {unknown}"


def every_parser() -> list:
    main = build_parser()
    tasks = [train.build_parser(task, type(main)) for task in TASKS.values()]
    return [*subparsers(main).values(), *tasks]


def programs_words() -> set[str]:
    files = [*(ROOT / "examples").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    return set().union(*(source_words(path) for path in files))


def test_flags_in_the_text_exist() -> None:
    """Every ``--flag`` quoted anywhere is a flag of an rnnkit command or task, or of a
    program in examples/ or benchmarks/; the choices a page lists after it are its."""
    parsers = every_parser()
    known = set().union(*(option_names(p) for p in parsers)) | programs_words()
    wrong = []
    for span in inline_spans():
        for flag, listed in re.findall(
            r"(--[a-z][a-z0-9-]*)(?:[ =](\w[\w-]*(?:\|\w[\w-]*)+))?", span.text
        ):
            if flag not in known:
                wrong.append(f"{span.where}: {flag}")
            choices = choices_of(flag, parsers)
            if listed and choices is not None:
                wrong += [
                    f"{span.where}: {flag} {c}" for c in listed.split("|") if c not in choices
                ]
    assert not wrong, "flags or choices no program takes:\n" + "\n".join(wrong)


def choices_of(flag: str, parsers: list) -> set[str] | None:
    """The choices of FLAG on every rnnkit parser that has it (None: a flag of free value)."""
    found = [
        p._option_string_actions[flag].choices for p in parsers if flag in p._option_string_actions
    ]
    return set().union(*found) if found and all(found) else None


def test_quoted_paths_exist() -> None:
    """A repository path quoted in the text (``rnnkit/nn/_loops.h``) names files that exist."""
    pattern = re.compile(r"^(?:rnnkit|tests|benchmarks|examples|docs)/[\w./*-]*$")
    spans = [span for span in inline_spans() if pattern.match(span.text)]
    assert len(spans) > 5
    missing = [f"{s.where}: {s.text}" for s in spans if not list(ROOT.glob(s.text.rstrip("/")))]
    assert not missing, "no such files: " + ", ".join(missing)


def test_quoted_names_exist() -> None:
    """A dotted name quoted in the text (``rnnkit.train.averaging``) is a module or one of
    its attributes."""
    spans = [span for span in inline_spans() if re.fullmatch(r"rnnkit(\.\w+)+", span.text)]
    assert len(spans) > 5
    missing = [f"{s.where}: {s.text}" for s in spans if not resolves(s.text)]
    assert not missing, "no such names: " + ", ".join(missing)


def resolves(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        try:
            for part in parts[cut:]:
                value = getattr(value, part)
        except AttributeError:
            return False
        return True
    return False
