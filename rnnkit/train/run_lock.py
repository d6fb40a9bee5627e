"""One writer per run folder: an OS file lock on ``DIR/.lock`` while a run trains into DIR.

Two training processes writing into one folder would interleave ``metrics.jsonl`` and
overwrite each other's checkpoints. ``hold_run_lock(folder)`` takes an exclusive,
non-blocking ``fcntl.flock`` on ``DIR/.lock`` (creating the folder if needed) for the
duration of a ``with`` block, and writes the holder's process id into that file; a second
writer gets a one-line ``UserError`` naming the holder's PID instead of waiting. The kernel
drops the lock when the process ends, however it ends, so a ``kill -9`` leaves no stale
lock (only a stale PID in the file, which the next holder overwrites). Readers (``rnnkit
sample``, ``eval``, ``predict``) never take the lock: checkpoints are saved atomically, so
they may read at any moment.

On release the file is emptied (so a folder's bytes do not change with each run that
merely looked at it), and removed, with the folder if this lock created it, when nothing
else was written beside it.

Platforms without ``fcntl`` (Windows) get no lock at all: ``hold_run_lock`` then does
nothing, and keeping one writer per folder is up to the user.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from rnnkit.errors import UserError

try:
    import fcntl
except ImportError:  # Windows: no lock (see the module's docstring)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
PID_READ_ATTEMPTS = 20  # a holder that has just taken the lock writes its PID a moment later
PID_READ_PAUSE = 0.01  # seconds


class RunLockedError(UserError):
    """Another process holds the run folder's lock."""


@contextmanager
def hold_run_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold FOLDER's write lock for the duration of the block; yields the lock file's path.

    FOLDER is created if needed. Raises ``RunLockedError`` (a ``UserError``: one line
    naming the holder's PID) when another process holds it, and ``UserError`` when FOLDER
    cannot be created or is not a folder. The lock is per open file, so a process that
    already holds it is refused too.
    """
    folder = Path(folder)
    lock_path = folder / LOCK_FILE
    if fcntl is None:
        yield lock_path
        return
    made_folder = not folder.exists()
    descriptor = _lock(lock_path, folder)
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield lock_path
    finally:
        try:
            with suppress(OSError):  # the folder may have gone meanwhile: nothing to tidy
                os.ftruncate(descriptor, 0)
                # Only if nothing else was written beside it; still under the lock, so
                # another process that opened the file before the unlink sees, once it has
                # the lock, that the file is gone, and retries.
                if [p.name for p in folder.iterdir()] == [LOCK_FILE]:
                    lock_path.unlink()
                    if made_folder:
                        folder.rmdir()
        finally:
            os.close(descriptor)  # releases the lock


def _lock(lock_path: Path, folder: Path) -> int:
    """An open descriptor of LOCK_PATH holding its exclusive lock."""
    while True:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir()
        except FileExistsError:
            # A folder (or, if a holder removed it just now, nothing: the open below fails
            # and we come round again), unless it is a file.
            with suppress(FileNotFoundError):
                if not stat.S_ISDIR(os.stat(folder).st_mode):
                    raise UserError(f"{folder} is not a folder; a run folder must be one") from None
        except OSError as error:
            raise UserError(f"cannot create the run folder {folder}: {error.strerror}") from None
        try:
            descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            continue  # a leaving holder removed the file, or the folder, as we came: again
        except OSError as error:
            raise UserError(
                f"cannot open the lock file {lock_path}: {error.strerror}; the run folder "
                "must be writable"
            ) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(descriptor)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError(
                    f"cannot lock {lock_path}: {error.strerror}; the run folder's file system "
                    "must support file locks"
                ) from None
            raise RunLockedError(
                f"{folder} is being written by another training run ({_holder(lock_path)}); "
                "wait for it to end, or stop it, or choose another run folder"
            ) from None
        # The holder before us may have removed the file between our open and our lock:
        # then we hold a lock on a file no one else will see, so start again.
        try:
            same = os.path.samestat(os.fstat(descriptor), os.stat(lock_path))
        except FileNotFoundError:
            same = False
        if same:
            return descriptor
        os.close(descriptor)


def _holder(lock_path: Path) -> str:
    """``"PID 1234"``, read from the lock file, or a phrase saying it is unknown."""
    for _ in range(PID_READ_ATTEMPTS):
        with suppress(OSError, ValueError):
            return f"PID {int(lock_path.read_text(encoding='ascii').strip())}"
        time.sleep(PID_READ_PAUSE)
    return "PID unknown"
