"""Pictures take the format their file name ends with (rnnkit.train.figures)."""

import shutil
from pathlib import Path

import pytest

from rnnkit.errors import UserError
from rnnkit.train.figures import picture_format, pyplot, save_figure

pytest.importorskip("matplotlib")

SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


def small_figure():
    plt = pyplot("a test")
    figure, axes = plt.subplots(figsize=(2, 2))
    axes.plot([0, 1, 2], [1, 0, 1])
    return figure


@pytest.mark.parametrize(
    "name, kind",
    [("a.png", "png"), ("a.pdf", "pdf"), ("a.SVG", "svg"), ("a", "png"), ("a.csv", "png")],
)
def test_format_is_the_suffix_matplotlib_writes_else_png(name: str, kind: str) -> None:
    figure = small_figure()
    try:
        assert picture_format(figure, name) == kind
    finally:
        pyplot("a test").close(figure)


@pytest.mark.parametrize("kind", sorted(SIGNATURES))
def test_save_figure_writes_that_format(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"picture.{kind}"
    save_figure(small_figure(), path)
    data = path.read_bytes()
    assert data.startswith(SIGNATURES[kind])
    if kind == "svg":
        assert b"<svg" in data
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_format_matplotlib_cannot_write_here_is_one_line(tmp_path: Path, monkeypatch) -> None:
    """PGF needs LaTeX: without it matplotlib raises RuntimeError, which must reach the user
    as one line naming the file and the formats that work, and write nothing."""
    path = tmp_path / "picture.pgf"
    figure = small_figure()
    if shutil.which("xelatex") is not None:  # simulate the missing LaTeX
        monkeypatch.setattr(
            figure, "savefig", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no LaTeX"))
        )
    with pytest.raises(UserError, match=r"picture\.pgf: matplotlib cannot write a pgf") as error:
        save_figure(figure, path)
    assert "\n" not in str(error.value) and "name the file .png, .pdf or .svg" in str(error.value)
    assert list(tmp_path.iterdir()) == []
