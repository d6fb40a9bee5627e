"""The documentation's blocks that are neither Python nor shell (equations, a folder
layout, a data file) hold no command that would then go unchecked, and what they name
exists: the layout's paths, the columns a command takes from the data file shown."""

from __future__ import annotations

import re

from tests.docs.markdown import ROOT, fenced_blocks
from tests.docs.shell import commands

CHECKED = ("python", "bash", "sh", "shell", "console")
OTHER = [block for block in fenced_blocks() if block.language not in CHECKED]
PATH = re.compile(r"^(?:rnnkit|tests|benchmarks|examples|docs)/[\w./-]*$|^[\w-]+\.py$")


def test_languages_are_known() -> None:
    unknown = {b.where: b.language for b in OTHER if b.language not in ("text", "")}
    assert not unknown, f"blocks of a language this test does not check: {unknown}"


def test_no_commands_outside_checked_blocks() -> None:
    programs = ("rnnkit ", "python ", "python3 ", "pip ", "mpiexec ", "$ ")
    for block in OTHER:
        lines = [line for line in block.text.splitlines() if line.lstrip().startswith(programs)]
        assert not lines, f"{block.where}: commands in a {block.language or 'plain'} block: {lines}"


def test_layout_paths_exist() -> None:
    named = [(b.where, w) for b in OTHER for w in b.text.split() if PATH.match(w)]
    assert len(named) > 5  # the README's layout is still read
    missing = [f"{where}: {word}" for where, word in named if not (ROOT / word).exists()]
    assert not missing, f"paths that do not exist: {missing}"


def test_forecast_columns_are_the_files() -> None:
    """The command under the CSV a page shows takes its columns from that file's header."""
    blocks = fenced_blocks()
    pairs = [
        (a, b)
        for a, b in zip(blocks, blocks[1:], strict=False)
        if a.language == "" and "," in a.text
    ]
    assert pairs
    for data, shell in pairs:
        header = set(data.text.splitlines()[0].split(","))
        for words in commands(shell.text):
            for flag in ("--date-column", "--target", "--future-covariates", "--covariates"):
                if flag in words:
                    column = words[words.index(flag) + 1]
                    assert column in header, f"{shell.where}: {flag} {column} is not in {header}"
