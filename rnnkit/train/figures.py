"""Shared plumbing of the figures rnnkit draws: matplotlib on demand, pictures written whole.

matplotlib is optional (``pip install rnnkit[plot]``) and slow to import, so it is
imported on first use, with the display-free Agg backend. A picture takes the format its
file name ends with (``.pdf`` or ``.svg`` for a paper, say) when matplotlib writes that
format, else PNG. A format matplotlib cannot write here (PGF needs LaTeX installed) is a
one-line ``UserError`` naming the file, not a traceback.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from rnnkit.atomic import write_atomic
from rnnkit.errors import UserError


def pyplot(purpose: str) -> Any:
    """``matplotlib.pyplot``, or a UserError saying that PURPOSE needs the [plot] extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; must precede importing pyplot
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError(f"{purpose} needs matplotlib: pip install 'rnnkit[plot]'") from None
    return plt


def picture_format(figure: Any, path: str | os.PathLike[str]) -> str:
    """The format PATH's suffix names if FIGURE's canvas writes it (``pdf``, ``svg``, ...),
    else ``png``."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in figure.canvas.get_supported_filetypes() else "png"


def figure_bytes(figure: Any, path: str | os.PathLike[str]) -> bytes:
    """FIGURE drawn in memory in the format for PATH (``picture_format``), then closed:
    nothing is written yet, so a failure leaves no file behind. UserError if matplotlib
    cannot write that format here."""
    import matplotlib.pyplot as plt

    kind = picture_format(figure, path)
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind)
    except RuntimeError as error:  # the pgf backend without LaTeX: "'xelatex' not found"
        raise UserError(
            f"{path}: matplotlib cannot write a {kind} picture here ({error}); "
            "name the file .png, .pdf or .svg"
        ) from None
    finally:
        plt.close(figure)
    return buffer.getvalue()


def save_figure(figure: Any, path: str | os.PathLike[str]) -> None:
    """Write FIGURE to PATH (atomically) in the format for PATH, and close it."""
    write_atomic(path, figure_bytes(figure, path))
