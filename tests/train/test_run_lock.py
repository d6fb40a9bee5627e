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


def contend(folder: Path, holders: object, most: object, attempts: int) -> None:
    """In a child process: take FOLDER's lock ATTEMPTS times, counting the holders."""
    for _ in range(attempts):
        try:
            with hold_run_lock(folder):
                with holders.get_lock():  # type: ignore[attr-defined]
                    holders.value += 1  # type: ignore[attr-defined]
                    most.value = max(most.value, holders.value)  # type: ignore[attr-defined]
                os.sched_yield()
                with holders.get_lock():  # type: ignore[attr-defined]
                    holders.value -= 1  # type: ignore[attr-defined]
        except UserError as error:
            assert "PID" in str(error), error


def test_writers_racing_for_a_new_folder_never_hold_it_together(tmp_path: Path) -> None:
    # Each holder writes nothing, so each release removes the lock file and the folder:
    # the others race against that removal too.
    folder = tmp_path / "run"
    holders, most = fork.Value("i", 0), fork.Value("i", 0)
    children = [fork.Process(target=contend, args=(folder, holders, most, 200)) for _ in range(4)]
    for child in children:
        child.start()
    for child in children:
        child.join(WAIT)
    assert [child.exitcode for child in children] == [0] * 4
    assert most.value == 1
    # Nothing left but, at worst, the empty folder (made by one, emptied by another).
    assert not folder.exists() or not any(folder.iterdir())
