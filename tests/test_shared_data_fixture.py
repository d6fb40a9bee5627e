"""The shared data fixture skips a test whose data set is missing from ../shared/data."""

from pathlib import Path

import pytest

from tests.conftest import SharedPath


def test_missing_part_skips(tmp_path: Path) -> None:
    (tmp_path / "present").mkdir()
    (tmp_path / "present" / "a.txt").write_text("x")
    root = SharedPath(tmp_path)
    assert (root / "present" / "a.txt").read_text() == "x"
    assert isinstance(root / "present", SharedPath)
    with pytest.raises(pytest.skip.Exception, match="shared data not found at .*absent"):
        root / "absent"
    with pytest.raises(pytest.skip.Exception):
        root / "present/b.txt"
