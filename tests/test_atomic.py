"""Atomic writes, and the check that a file can be written before the work that makes it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from rnnkit.atomic import check_writable, write_atomic


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_check_writable_meets_the_error_writing_would(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for path, code in [
        (tmp_path, errno.EISDIR),
        (tmp_path / "no" / "out.csv", errno.ENOENT),
        (tmp_path / "file" / "out.csv", errno.ENOTDIR),
        (tmp_path / "file" / "sub" / "out.csv", errno.ENOTDIR),  # a file further up
        (tmp_path / "no" / "sub" / "out.csv", errno.ENOENT),
    ]:
        with pytest.raises(OSError) as caught:
            check_writable(path)
        assert caught.value.errno == code and caught.value.filename == str(path)
        with pytest.raises(OSError) as written:
            write_atomic(path, b"x")
        # the same error, told before the work, and naming the file asked for (not the
        # temporary name the write went through)
        assert written.value.errno == code and written.value.filename == str(path)
    check_writable(tmp_path / "out.csv")  # a new file in a folder that exists: fine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_check_writable_refuses_a_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(PermissionError):
        check_writable(folder / "out.csv")
