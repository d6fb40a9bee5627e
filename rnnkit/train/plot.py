"""The learning curve: training and validation loss against the step, as a PNG.

matplotlib is optional (``pip install rnnkit[plot]``): without it there is no picture and
nothing else changes. It is imported on first use only, because importing it takes a
noticeable fraction of a second.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from typing import Any

from rnnkit.atomic import write_atomic


def plot_learning_curve(
    records: Iterable[dict[str, Any]], path: str | os.PathLike[str], title: str = ""
) -> bool:
    """Draw ``train_loss`` and ``val_loss`` of RECORDS against ``step`` into PATH.

    Returns False (and writes nothing) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed; must precede importing pyplot
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    records = list(records)
    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for key, label in (("train_loss", "training"), ("val_loss", "validation")):
            # a value edited into something else (text, a list) is no point of the curve
            points = [(r["step"], r[key]) for r in records if _is_number(r.get(key))]
            if points:
                steps, losses = zip(*points, strict=True)
                marker = "o" if key == "val_loss" else None
                axes.plot(steps, losses, label=label, marker=marker, markersize=3)
        axes.set_xlabel("step")
        axes.set_ylabel("loss (nats per token)")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
