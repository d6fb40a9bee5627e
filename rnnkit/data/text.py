"""Read the training text a user points at: one file, or every text file in a folder.

Everything that can go wrong with the input (a missing path, an empty or binary file, bytes
in the wrong encoding) becomes a ``UserError`` whose one-line message names the file and
what to do, because a traceback from deep inside a decoder helps nobody.

Files are read in chunks, and a NUL byte (the mark of a binary file) stops the reading at
the chunk that holds it, so a binary file is refused after its first megabyte, not after
all of it. Only regular files are read: a device (``/dev/zero`` never ends), a named pipe
or a socket is refused unless the caller passes ``allow_special=True``; inside a folder
such entries are skipped, as binary files are.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from rnnkit.errors import SettingError, UserError
from rnnkit.plural import counted, some_of, were

CHUNK_BYTES = 1 << 20  # read this much at a time, looking for NUL bytes as it comes
MAX_SKIPPED_NAMED = 5  # skipped files a note names


def read_text(
    path: str | os.PathLike[str], encoding: str = "utf-8", allow_special: bool = False
) -> str:
    """Return the text of PATH, a file or a folder.

    A folder gives every text file below it (recursively, sorted by relative path, hidden
    files and folders skipped, binary files and anything but regular files skipped) joined
    with ``"\\n"``. Line endings become ``"\\n"``, as Python's own text mode does. A PATH
    that is neither a regular file nor a folder (a device, a named pipe, a socket) is
    refused unless ALLOW_SPECIAL is true.
    """
    _check_encoding(encoding)
    root = Path(path)
    if root.is_dir():
        text = _read_folder(root, encoding)
    elif root.exists():
        data, nul = _read_bytes(root, encoding, allow_special)
        if nul is not None:
            raise _binary(root, nul)
        text = _decode(data, root, encoding)
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
    texts, skipped = [], []
    for file in files_below(folder):
        if not file.is_file():
            skipped.append(file)  # a device, pipe or socket among text files is skipped
            continue
        data, nul = _read_bytes(file, encoding)
        if nul is None:  # a binary file among text files is skipped
            texts.append(_decode(data, file, encoding))
        else:
            skipped.append(file)
    if not texts:
        raise no_text_files(folder, skipped)
    return "\n".join(texts)


def no_text_files(folder: Path, skipped: list[Path]) -> UserError:
    """The error for FOLDER, none of whose files is text (SKIPPED: the ones read as not
    text). Where some are compressed, it says how to unpack them: "binary files are
    skipped" alone leaves a folder of ``.txt.gz`` files with nothing to do."""
    if any(compression_of(file) for file in skipped):
        return UserError(f"{folder} holds no text files: {skipped_note(folder, skipped)}")
    return UserError(
        f"{folder} holds no text files (hidden and binary files are skipped); "
        "point to a folder with text files in it, or to a file"
    )


def is_codec(name: str) -> bool:
    """Whether Python knows NAME as a text encoding (``utf-8``, ``latin-1``, ...)."""
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _check_encoding(encoding: str) -> None:
    if not is_codec(encoding):
        raise UserError(f"unknown encoding {encoding!r}; use e.g. utf-8 or latin-1")


def special_kind(mode: int) -> str | None:
    """What a file of st_mode MODE is when it is not a regular file or a folder, else None."""
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def open_regular_file(file: Path, allow_special: bool = False) -> int:
    """An open descriptor of FILE for reading; UserError (one line) when FILE cannot be
    opened, or is not a regular file and ALLOW_SPECIAL is false.

    The file is opened without blocking (a named pipe with no writer would hang an ordinary
    open) and checked on the open descriptor, so nothing is read from a device or pipe
    that was not asked for.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(file, flags)
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror}; check the file") from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{file} is a folder where a file is expected; give a file")
        kind = special_kind(mode)
        if kind is not None and not allow_special:
            raise UserError(
                f"{file} is {kind}, not a regular file; give a regular text file (a pipe's "
                "output saved to a file first)"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    if stat.S_ISFIFO(mode):
        # Asked for: open it again, blocking, which waits for a writer (from the non-blocking
        # descriptor, a pipe whose writer has not come yet would read as empty).
        os.close(descriptor)
        try:
            descriptor = os.open(file, os.O_RDONLY)
        except OSError as error:
            raise UserError(f"cannot read {file}: {error.strerror}; check the file") from None
    return descriptor


def _read_bytes(
    file: Path, encoding: str, allow_special: bool = False
) -> tuple[bytes, int | None]:
    """The bytes of FILE, read in chunks, and the offset of its first NUL byte or None.

    With a NUL (in encodings where it marks a binary file) the reading stops at the chunk
    that holds it, and the bytes are those read so far.
    """
    look_for_nul = "a".encode(encoding) == b"a"
    chunks = []
    offset = 0
    try:
        with open(open_regular_file(file, allow_special), "rb", buffering=0) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                nul = chunk.find(b"\x00") if look_for_nul else -1
                if nul >= 0:
                    return b"".join(chunks), offset + nul
                chunks.append(chunk)
                offset += len(chunk)
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror}; check the file") from None
    return b"".join(chunks), None


def _nul_offset(data: bytes, encoding: str) -> int | None:
    """Offset of the first NUL byte, the mark of a binary file, or None if there is none.

    UTF-16 and UTF-32 text is full of NUL bytes, so the test only applies to encodings that
    write ASCII as single bytes (UTF-8, Latin-1 and the like).
    """
    if "a".encode(encoding) != b"a":
        return None
    offset = data.find(b"\x00")
    return None if offset < 0 else offset


# The first bytes of the compressed files people keep text in, and the command that unpacks
# each: such a file is binary for the reader, but "binary" alone does not say what to do.
COMPRESSED = {
    b"\x1f\x8b": ("gzip", "gunzip -k"),
    b"BZh": ("bzip2", "bunzip2 -k"),
    b"\xfd7zXZ\x00": ("xz", "unxz -k"),
    b"PK\x03\x04": ("zip", "unzip"),
}


def compression_of(file: Path) -> tuple[str, str] | None:
    """``(kind, the command that unpacks it)`` when FILE starts as a compressed file does
    (``("gzip", "gunzip -k")``), else None."""
    head = b""
    if file.is_file():  # a pipe cannot be read again
        with suppress(OSError), open(file, "rb") as stream:
            head = stream.read(8)
    for magic, found in COMPRESSED.items():
        if head.startswith(magic):
            return found
    return None


def skipped_note(folder: Path, skipped: list[Path]) -> str | None:
    """A note for the user on the files of FOLDER that reading it SKIPPED (binary or not
    regular files), naming a few, and how to unpack them where they are compressed; None
    when nothing was skipped. A folder of ``.txt.gz`` files and a licence would otherwise
    train on the licence alone without a word."""
    if not skipped:
        return None
    names = some_of((str(file.relative_to(folder)) for file in skipped), MAX_SKIPPED_NAMED)
    count = len(skipped)
    note = f"{counted(count, 'file')} in {folder} {'is' if count == 1 else 'are'} not text "
    note += f"and {were(count)} skipped: {names}"
    commands = sorted({found[1] for found in map(compression_of, skipped) if found})
    if commands:
        note += f"; unpack the compressed ones ({', '.join(commands)}) to read them"
    return note


def _binary(file: Path, offset: int) -> UserError:
    found = compression_of(file)
    if found:
        kind, command = found
        return UserError(
            f"{file} is {kind}-compressed, not text; decompress it ({command} {file}) "
            "and give the file it makes"
        )
    return SettingError(
        f"{file} looks binary, not text: a NUL byte at byte offset {offset}; "
        "give a text file (if it is UTF-16 text, pass encoding utf-16)",
        "encoding",
    )


def _decode(data: bytes, file: Path, encoding: str) -> str:
    offset = _nul_offset(data, encoding)
    if offset is not None:
        raise _binary(file, offset)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise SettingError(
            f"{file}: byte 0x{bad:02x} at byte offset {error.start} is not valid {encoding}; "
            "pass encoding latin-1, or the one the file was written in",
            "encoding",
        ) from None
    # An editor's byte-order mark is not part of the text; leave it out of the vocabulary.
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")
