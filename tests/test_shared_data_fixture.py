"""The shared data fixture skips a test whose data set is missing from ../shared/data, and
fails one that names a file missing from a data set that is there (a mistyped path)."""

from pathlib import Path

import pytest

from tests.conftest import SharedPath


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SharedPath:
    """A data root holding one data set, ``present``, with one file, ``a.txt``."""
    (tmp_path / "present").mkdir()
    (tmp_path / "present" / "a.txt").write_text("x")
    monkeypatch.setattr(SharedPath, "root", tmp_path)
    return SharedPath(tmp_path)


def test_a_present_file_is_returned(root: SharedPath) -> None:
    assert (root / "present" / "a.txt").read_text() == "x"
    assert (root / "present/a.txt").read_text() == "x"
    assert isinstance(root / "present", SharedPath)


def test_a_missing_data_set_skips(root: SharedPath) -> None:
    with pytest.raises(pytest.skip.Exception, match="shared data not found at .*absent"):
        root / "absent"
    with pytest.raises(pytest.skip.Exception, match="shared data not found at .*absent$"):
        root / "absent/b.txt"


def test_a_missing_file_of_a_present_data_set_fails(root: SharedPath) -> None:
    for join in (lambda: root / "present" / "b.txt", lambda: root / "present/b.txt"):
        # A skip is caught too, or it would skip this test instead of failing it.
        with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as ended:
            join()
        assert ended.type is pytest.fail.Exception, ended.value
        assert "b.txt not found, although its data set" in str(ended.value)


def test_a_missing_root_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SharedPath, "root", tmp_path / "nowhere")
    with pytest.raises(pytest.skip.Exception, match="nowhere/ptb$"):
        SharedPath(tmp_path / "nowhere") / "ptb" / "ptb.train.txt.gz"
