"""Helpers for the command-line tests: run ``main`` in-process, tiny texts, tiny models."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np

from rnnkit.cli.main import main

# A model small enough that a few steps take well under a second.
TINY = [
    "--embedding-size", "8", "--hidden-size", "16", "--num-layers", "1",
    "--batch-size", "4", "--seq-len", "16", "--eval-every", "3",
]  # fmt: skip


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``rnnkit ARGV``, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def sentences(count: int = 60, seed: int = 0) -> str:
    """Lines of words drawn from a small vocabulary: text a tiny model can start to learn."""
    rng = np.random.default_rng(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "and"]
    return "".join(
        " ".join(rng.choice(words, size=rng.integers(3, 8))) + " .\n" for _ in range(count)
    )


def write_corpus(folder: Path, name: str = "corpus.txt", **options: int) -> Path:
    path = folder / name
    path.write_text(sentences(**options), encoding="utf-8")
    return path


def assert_one_line_error(status: int, err: str, *fragments: str) -> None:
    """Exit status 2 and exactly one line on stderr, holding every fragment, no traceback."""
    assert status == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith("rnnkit: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below FOLDER with its content, to check that nothing was touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
