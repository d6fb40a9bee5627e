"""``hold_run_lock``: one writer per run folder, across processes, and no stale lock after
a kill -9."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from rnnkit.errors import UserError
from rnnkit.train.run_lock import LOCK_FILE, hold_run_lock

WAIT = 60  # seconds; only reached if something is broken

fork = multiprocessing.get_context("fork")


def hold(folder: Path, held: object, release: object) -> None:
    """In a child process: hold FOLDER's lock until RELEASE is set."""
    with hold_run_lock(folder):
        (folder / "written-by-child").write_text("x")
        held.set()  # type: ignore[attr-defined]
        release.wait(WAIT)  # type: ignore[attr-defined]


def start_holder(folder: Path) -> tuple[multiprocessing.Process, object]:
    held, release = fork.Event(), fork.Event()
    child = fork.Process(target=hold, args=(folder, held, release))
    child.start()
    assert held.wait(WAIT), "the child did not take the lock"
    return child, release


def test_a_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    child, release = start_holder(folder)
    try:
        with pytest.raises(UserError) as refused, hold_run_lock(folder):
            pass
        message = str(refused.value)
        assert f"PID {child.pid}" in message and str(folder) in message
        assert "\n" not in message and "--" not in message
    finally:
        release.set()  # type: ignore[attr-defined]
        child.join(WAIT)
    assert child.exitcode == 0
    with hold_run_lock(folder):  # free again once the holder let go
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    assert (folder / LOCK_FILE).read_text() == ""  # emptied on release


def test_kill_9_leaves_no_stale_lock(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    child, release = start_holder(folder)
    os.kill(child.pid, signal.SIGKILL)
    child.join(WAIT)
    assert child.exitcode == -signal.SIGKILL
    assert (folder / LOCK_FILE).read_text() == f"{child.pid}\n"  # a stale PID, but no lock
    with hold_run_lock(folder):
        assert (folder / LOCK_FILE).read_text() == f"{os.getpid()}\n"


def test_the_same_process_cannot_take_it_twice(tmp_path: Path) -> None:
    with (
        hold_run_lock(tmp_path),
        pytest.raises(UserError, match=f"PID {os.getpid()}"),
        hold_run_lock(tmp_path),
    ):
        pass


def test_a_lock_that_wrote_nothing_leaves_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "run"
    with hold_run_lock(folder):
        assert folder.is_dir()
    assert not folder.exists()
    (tmp_path / "kept").mkdir()
    with hold_run_lock(tmp_path / "kept"):
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == [LOCK_FILE, "config.json"]


def test_a_file_where_the_folder_should_be_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"), hold_run_lock(tmp_path / "file"):
        pass
