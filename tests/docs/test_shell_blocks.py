"""Every command of the documentation's shell blocks parses with the parsers of the program
it runs (nothing is run), names only flags that exist, and reads data files that exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.checks import check_command
from tests.docs.markdown import fenced_blocks
from tests.docs.shell import commands

SHELL = ("bash", "sh", "shell", "console")
COMMANDS = [
    (block.where, words)
    for block in fenced_blocks()
    if block.language in SHELL
    for words in commands(block.text)
]
# Data files the commands read that stand for the reader's own, not for a shared data set.
OWN_FILES = {
    "valid.txt": "the held-out part of the reader's text (the shared Tiny Shakespeare is one file)",
    "series.csv": "the reader's series, in the columns the command names",
    "sales.csv": "the file the page shows in the block above the command",
}
DATA_FLAGS = ("--data", "--train", "--valid", "--test", "--embeddings", "--input")


def ids(commands: list[tuple[str, list[str]]]) -> list[str]:
    return [f"{where} {' '.join(words)[:60]}" for where, words in commands]


def test_the_blocks_run_commands() -> None:
    assert len(COMMANDS) > 30  # the extraction did not lose the blocks


@pytest.mark.parametrize(("where", "words"), COMMANDS, ids=ids(COMMANDS))
def test_command_parses(where: str, words: list[str]) -> None:
    check_command(where, words)


def data_files() -> list[tuple[str, str]]:
    """Each (place, file) a command reads, once, but the reader's own (OWN_FILES)."""
    found = {
        (where, words[i + 1])
        for where, words in COMMANDS
        if words[0] == "rnnkit"
        for i, word in enumerate(words[:-1])
        if word in DATA_FLAGS
    }
    return sorted((where, name) for where, name in found if name not in OWN_FILES)


def test_own_files_are_read() -> None:
    read = {
        words[i + 1] for _, words in COMMANDS for i, w in enumerate(words[:-1]) if w in DATA_FLAGS
    }
    assert set(OWN_FILES) <= read, f"no command reads {sorted(set(OWN_FILES) - read)}"


@pytest.mark.parametrize(("where", "name"), data_files(), ids=[f"{w} {n}" for w, n in data_files()])
def test_data_file_is_shared(where: str, name: str, shared_data: Path) -> None:
    """A data file a command reads is one of ../shared/data's (found by its name)."""
    base = Path(name).name
    found = [p for p in shared_data.rglob(base) if p.name == base]
    assert found, f"{where}: {name} is none of the shared data sets' files"
