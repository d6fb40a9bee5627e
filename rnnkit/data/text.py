"""Read the training text a user points at: one file, or every text file in a folder.

Everything that can go wrong with the input (a missing path, an empty or binary file, bytes
in the wrong encoding) becomes a ``UserError`` whose one-line message names the file and
what to do, because a traceback from deep inside a decoder helps nobody.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterable
from pathlib import Path

from rnnkit.errors import UserError


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """Return the text of PATH, a file or a folder.

    A folder gives every text file below it (recursively, sorted by relative path, hidden
    files and folders skipped, binary files skipped) joined with ``"\\n"``. Line endings
    become ``"\\n"``, as Python's own text mode does.
    """
    _check_encoding(encoding)
    root = Path(path)
    if root.is_dir():
        text = _read_folder(root, encoding)
    elif root.exists():
        text = _decode(_read_bytes(root), root, encoding)
    else:
        raise UserError(f"{root} does not exist; check the path")
    if not text.strip():
        raise UserError(f"{root} holds no text (it is empty or only whitespace); give it some text")
    return text


def files_below(folder: Path, skip_dirs: Iterable[str] = ()) -> list[Path]:
    """Every file below FOLDER, sorted by relative path, without hidden files or folders.

    Folders named in SKIP_DIRS are not entered. Sorting by the path's parts (not by the
    order the file system lists them in) makes the result the same on every machine.
    """
    skip = set(skip_dirs)
    found = []
    for here, dirs, files in os.walk(folder):
        # Pruning `dirs` in place is how os.walk is told not to descend into a folder.
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in skip]
        found += [Path(here, f) for f in files if not f.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _read_folder(folder: Path, encoding: str) -> str:
    texts = []
    for file in files_below(folder):
        data = _read_bytes(file)
        if _nul_offset(data, encoding) is None:  # a binary file among text files is skipped
            texts.append(_decode(data, file, encoding))
    if not texts:
        raise UserError(
            f"{folder} holds no text files (hidden and binary files are skipped); "
            "point to a folder with text files in it, or to a file"
        )
    return "\n".join(texts)


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UserError(f"unknown encoding {encoding!r}; use e.g. utf-8 or latin-1") from None


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror}; check the file") from None


def _nul_offset(data: bytes, encoding: str) -> int | None:
    """Offset of the first NUL byte, the mark of a binary file, or None if there is none.

    UTF-16 and UTF-32 text is full of NUL bytes, so the test only applies to encodings that
    write ASCII as single bytes (UTF-8, Latin-1 and the like).
    """
    if "a".encode(encoding) != b"a":
        return None
    offset = data.find(b"\x00")
    return None if offset < 0 else offset


def _decode(data: bytes, file: Path, encoding: str) -> str:
    offset = _nul_offset(data, encoding)
    if offset is not None:
        raise UserError(
            f"{file} looks binary, not text: a NUL byte at byte offset {offset}; "
            "give a text file (if it is UTF-16 text, pass --encoding utf-16)"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise UserError(
            f"{file}: byte 0x{bad:02x} at byte offset {error.start} is not valid {encoding}; "
            "pass --encoding latin-1 (or the file's real encoding)"
        ) from None
    # An editor's byte-order mark is not part of the text; leave it out of the vocabulary.
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")
