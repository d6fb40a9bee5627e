"""Shared plumbing of the figures rnnkit draws: matplotlib on demand, PNGs written whole.

matplotlib is optional (``pip install rnnkit[plot]``) and slow to import, so it is
imported on first use, with the display-free Agg backend.
"""

from __future__ import annotations

import io
import os
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


def save_png(figure: Any, path: str | os.PathLike[str]) -> None:
    """Write FIGURE to PATH as a PNG (atomically) and close it."""
    import matplotlib.pyplot as plt

    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    write_atomic(path, buffer.getvalue())
