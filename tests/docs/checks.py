"""The checks of one documented command line, whatever block or span it is in."""

from __future__ import annotations

import re

import pytest

from rnnkit.errors import UserError
from tests.docs.commands import (
    load_program,
    parse_program,
    parse_rnnkit,
    program_parser,
    source_words,
    unknown_flags,
)
from tests.docs.markdown import ROOT

# Programs the documentation runs that have no flags of the project's to check, and why.
UNCHECKED = {
    "echo": "prints the text piped to the next command",
    "wait": "waits for the commands started with & above it",
    "mkdocs": "serves the site, which CI builds with mkdocs build --strict",
}


def check_command(where: str, words: list[str]) -> None:
    """WORDS (a program and its arguments, found at WHERE) parse with the program's own
    parser and use its flags by their exact names; a failure names WHERE."""
    program, args = words[0], words[1:]
    if program == "rnnkit":
        try:
            parser = parse_rnnkit(args)
        except UserError as error:
            pytest.fail(f"{where}: rnnkit {' '.join(args)}: {error}", pytrace=False)
        unknown = unknown_flags(args, parser)
        assert not unknown, f"{where}: rnnkit {args[0]} has no flags {unknown}"
    elif program in ("python", "python3"):
        check_python(where, args)
    elif program == "pip":
        check_pip(where, args)
    else:
        assert program in UNCHECKED, f"{where}: a command this test does not know: {words}"


def check_python(where: str, words: list[str]) -> None:
    if words[:2] == ["-m", "pytest"]:
        return  # the test suite itself
    main, path, argv = load_program(words)
    assert path.is_file(), f"{where}: no {path.relative_to(ROOT)}"
    if main is None:
        known = source_words(path)
        missing = [w for w in argv if w.startswith("-") and w.split("=", 1)[0] not in known]
        missing += [w for w in argv[:1] if not w.startswith("-") and w not in known]
        assert not missing, f"{where}: {path.name} knows no {missing}"
        return
    parser = program_parser(main)
    try:
        parse_program(parser, argv)
    except AssertionError as error:
        pytest.fail(f"{where}: {path.name} {' '.join(argv)}: {error}", pytrace=False)
    unknown = unknown_flags(argv, parser)
    assert not unknown, f"{where}: {path.name} has no flags {unknown}"


def check_pip(where: str, words: list[str]) -> None:
    """The extras a ``pip install -e ".[a,b]"`` names are the project's."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 on
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for word in words:
        match = re.fullmatch(r"\.\[([\w,-]+)\]", word)
        if match:
            unknown = set(match.group(1).split(",")) - set(extras)
            assert not unknown, f"{where}: no extras {sorted(unknown)} in pyproject.toml"
