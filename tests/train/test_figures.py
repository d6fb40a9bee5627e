"""Pictures take the format their file name ends with (rnnkit.train.figures)."""

from pathlib import Path

import pytest

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
