"""The default corpus: the standard library's sources, the same on every call."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.data import default_corpus
from rnnkit.data.default_corpus import DEFAULT_CORPUS_NAME, DEFAULT_MAX_CHARS, default_corpus_text
from rnnkit.errors import UserError


@pytest.fixture
def fake_stdlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small stand-in for the standard library, where every exclusion can be seen."""
    files = {
        "os.py": "os",
        "abc.py": "abc",
        "json/__init__.py": "json",
        "json/decoder.py": "decoder",
        "README.txt": "not python",
        "test/test_os.py": "test",
        "unittest/tests/test_case.py": "tests",
        "idlelib/editor.py": "idle",
        "site-packages/numpy/core.py": "numpy",
        "lib2to3/tests/data/bom.py": "lib2to3 data",
        ".hidden/secret.py": "hidden",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "latin1.py").write_bytes(b"# caf\xe9\n")  # not UTF-8: left out
    monkeypatch.setattr(default_corpus.sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    return tmp_path


def test_takes_only_library_sources_in_sorted_order(fake_stdlib: Path) -> None:
    assert default_corpus_text() == "abc\njson\ndecoder\nos"


def test_cuts_at_max_chars(fake_stdlib: Path) -> None:
    assert default_corpus_text(max_chars=6) == "abc\njs"


def test_missing_stdlib_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(default_corpus.sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    with pytest.raises(UserError, match="no Python sources found"):
        default_corpus_text()


def test_rejects_a_non_positive_cap() -> None:
    with pytest.raises(UserError, match="at least 1"):
        default_corpus_text(max_chars=0)


def test_real_stdlib_is_python_source_and_deterministic() -> None:
    text = default_corpus_text(max_chars=200_000)
    assert len(text) == 200_000
    assert "def " in text and "import " in text
    assert default_corpus_text(max_chars=200_000) == text
    assert default_corpus_text(max_chars=300_000).startswith(text)


def test_names_and_default_cap() -> None:
    assert DEFAULT_CORPUS_NAME == "python-stdlib"
    assert 1_000_000 <= DEFAULT_MAX_CHARS <= 10_000_000
