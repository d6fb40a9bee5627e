"""The commands of a shell block, as the shell would run them (for the few shell forms the
documentation uses): comments, line continuations, ``&&``, ``|``, ``&``, ``;``, variables
set in the block, ``mpiexec -n N`` and ``nohup`` before a command."""

from __future__ import annotations

import re
import shlex

OPERATORS = {"&&", "||", "|", ";", "&"}
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
WRAPPERS = {"mpiexec": 2, "nohup": 0}  # a program run by another: the words of its options


def commands(text: str) -> list[list[str]]:
    """The argument lists of every command in TEXT, in order; ``$NAME`` is replaced by the
    words of NAME's value when the block set it (``NAME="..."``), as bash splits them."""
    variables: dict[str, str] = {}
    found = []
    for line in text.replace("\\\n", "").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        for words in _split(list(lexer)):
            assignments = [ASSIGNMENT.match(w) for w in words]
            if all(assignments):
                variables.update(m.groups() for m in assignments)
                continue
            while ASSIGNMENT.match(words[0]):  # an environment for this command only
                words = words[1:]
            words = [w for word in words for w in _expand(word, variables)]
            found.append(_unwrap(words))
    return found


def _split(words: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for word in words:
        if word in OPERATORS:
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


def _expand(word: str, variables: dict[str, str]) -> list[str]:
    if not word.startswith("$"):
        if "$" in word:
            raise ValueError(f"a variable inside a word is not read here: {word!r}")
        return [word]
    name = word[1:].strip("{}")
    if name not in variables:
        raise ValueError(f"${name} is not set in the block")
    return variables[name].split()


def _unwrap(words: list[str]) -> list[str]:
    while words and words[0] in WRAPPERS:
        words = words[1 + WRAPPERS[words[0]] :]
    return words
