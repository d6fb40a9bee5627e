"""The text to train on when the user brings none: Python's own standard library sources.

Every Python installation carries a few megabytes of its library as ``.py`` files, so this
corpus is there without a download, much as Karpathy's Char-RNN learned from the Linux
sources. It is the same text on every machine with the same Python version.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from rnnkit.data.text import files_below
from rnnkit.errors import UserError

DEFAULT_CORPUS_NAME = "python-stdlib"
DEFAULT_MAX_CHARS = 4_000_000

# Test suites, the IDLE editor and installed third-party packages are not "the library":
# test data holds deliberately odd files, and site-packages differs from machine to machine.
SKIPPED_FOLDERS = ("test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__")


def default_corpus_text(max_chars: int | None = None) -> str:
    """The standard library's ``.py`` files, in sorted order, joined up to MAX_CHARS characters.

    MAX_CHARS defaults to ``DEFAULT_MAX_CHARS``; the last file is cut to fit.
    """
    limit = DEFAULT_MAX_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise UserError(f"max_chars must be at least 1, got {limit}")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    size = 0
    for file in _source_files(stdlib):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # a file we cannot read as UTF-8 is simply not part of the corpus
        texts.append(text)
        size += len(text) + 1  # + 1 for the "\n" that joins it to the next file
        if size >= limit:
            break
    if not texts:
        raise UserError(
            f"no Python sources found under {stdlib} for the default corpus; "
            "pass a text file to train on"
        )
    return "\n".join(texts)[:limit]


def _source_files(stdlib: Path) -> list[Path]:
    if not stdlib.is_dir():
        return []
    return [f for f in files_below(stdlib, SKIPPED_FOLDERS) if f.suffix == ".py"]
