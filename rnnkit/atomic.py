"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half.

The data goes to a fresh temporary file in the target's folder, is flushed to disk
(fsync), and the temporary file is renamed over the target (``os.replace``, atomic on
POSIX and Windows); then the folder itself is fsynced so the rename survives a power cut.
``rnnkit.save_weights`` and the training checkpoints write through it; ``write_atomic_files``
replaces several files together.

``check_writable`` refuses, before a command does its work, a file that could not be
written: a command that writes two files (a CSV and a picture) would otherwise leave the
first written when the second fails.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file PATH by DATA, atomically."""
    write_atomic_files([(path, data)])


def write_atomic_files(files: Sequence[tuple[str | os.PathLike[str], bytes]]) -> None:
    """Replace each file PATH of FILES ``(path, data)`` by its DATA, together.

    Every file's data is written and flushed to its temporary before any is renamed into
    place: a failure while writing (a full disk) leaves every old file as it was, so files
    that only make sense together (a seq2seq model's encoder and decoder) are not mixed.
    """
    staged: list[tuple[Path, Path]] = []  # (target, its temporary)
    path = Path()  # the file being written, which an error names
    try:
        for target, data in files:
            path = Path(target)
            # A fresh name created exclusively ("x"): no clash with a leftover or concurrent file.
            temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
            staged.append((path, temporary))
            with open(temporary, "xb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
        for path, temporary in staged:
            os.replace(temporary, path)
    except BaseException as error:
        # Where a temporary could not be made (its folder missing, or a file on the way)
        # removing it fails too: that failure must not hide the one to report.
        for _, temporary in staged:
            with suppress(OSError):
                os.unlink(temporary)
        if isinstance(error, OSError) and error.errno is not None:
            # The temporary name is ours, not the caller's: name the file they asked for
            # (OSError(errno, ...) gives the same subclass, e.g. PermissionError)
            raise OSError(error.errno, error.strerror, str(path)) from None
        raise
    for folder in dict.fromkeys(path.parent for path, _ in staged):
        fsync_folder(folder)


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise the OSError that writing PATH would meet where it can be told beforehand: PATH
    is a folder, its folder does not exist or is not one, or may not be written to."""
    path = Path(path)
    folder = path.parent
    # the nearest folder on the way that exists: a file there (out.csv/sub/x.png) is what
    # the write would stumble on first, so its error is "not a directory"
    there = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    for failed, code in (
        (path.is_dir(), errno.EISDIR),
        (not there.is_dir(), errno.ENOTDIR),
        (not folder.exists(), errno.ENOENT),
        (folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK), errno.EACCES),
    ):
        if failed:
            raise OSError(code, os.strerror(code), str(path))


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Make renames and deletions in FOLDER durable (POSIX only: Windows cannot open folders)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
