"""How good a classifier is: accuracy, per-class precision and recall, macro-F1, confusion.

For class ``c``, with ``confusion[t, p]`` counting examples of true class ``t`` predicted
as ``p``::

    precision_c = confusion[c, c] / sum_t confusion[t, c]    (of those predicted c)
    recall_c    = confusion[c, c] / sum_p confusion[c, p]    (of those truly c)
    f1_c        = 2 precision_c recall_c / (precision_c + recall_c)

A ratio with nothing to divide by (a class never predicted, say) counts as 0. Macro-F1 is
the plain mean of ``f1_c`` over the classes that occur in the targets or the predictions,
so every class weighs the same however rare it is; it is what scikit-learn's
``f1_score(average="macro")`` computes. Balanced accuracy is the plain mean of
``recall_c`` over the classes that occur in the targets (scikit-learn's
``balanced_accuracy_score``): on imbalanced classes, the accuracy a classifier would
have if every class were equally frequent.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.atomic import write_atomic


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(targets), np.asarray(predictions)), 1)
    return counts


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def classification_report(
    targets: np.ndarray, predictions: np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """A JSON-ready summary: ``accuracy`` (a fraction), ``balanced_accuracy`` (the mean
    of ``recall_c`` over the classes that occur in the targets), ``macro_f1``,
    ``per_class`` (label -> precision, recall, f1, support) and ``confusion`` (rows = true
    labels)."""
    confusion = confusion_matrix(targets, predictions, len(labels))
    hits = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = _ratio(hits, predicted)
    recall = _ratio(hits, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = (support > 0) | (predicted > 0)
    return {
        "accuracy": float(hits.sum() / max(confusion.sum(), 1)),
        "balanced_accuracy": float(recall[support > 0].mean()) if support.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "examples": int(confusion.sum()),
        "per_class": {
            label: {
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "support": int(support[c]),
            }
            for c, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion": confusion.tolist(),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a table for people: per-class figures, then the confusion matrix."""
    labels = report["labels"]
    width = max(8, *(len(label) for label in labels))
    # A tagging report (per-token figures) has no balanced accuracy.
    balanced = report.get("balanced_accuracy")
    balanced = "" if balanced is None else f"balanced accuracy {balanced:.2%}, "
    lines = [
        f"accuracy {report['accuracy']:.2%} ({report['examples']} examples), {balanced}"
        f"macro-F1 {report['macro_f1']:.4f}",
        "",
        f"{'class':<{width}}  precision  recall     f1  support",
    ]
    for label, figures in report["per_class"].items():
        lines.append(
            f"{label:<{width}}  {figures['precision']:9.4f}  {figures['recall']:6.4f}  "
            f"{figures['f1']:.4f}  {figures['support']:7d}"
        )
    cell = max(6, *(len(str(n)) + 1 for row in report["confusion"] for n in row))
    lines += ["", "confusion (rows: true class, columns: predicted class, same order)"]
    for label, row in zip(labels, report["confusion"], strict=True):
        lines.append(f"{label:<{width}}  " + "".join(f"{n:>{cell}}" for n in row))
    return "\n".join(lines)


def save_confusion_png(path: str | os.PathLike[str], report: dict[str, Any]) -> bool:
    """Draw the confusion matrix into a PNG at PATH; False if matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = report["labels"]
    confusion = np.array(report["confusion"])
    # Rows as fractions of each true class, so rare classes are as readable as common ones.
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(labels)
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels, rotation=90)
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"accuracy {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}")
    if len(labels) <= 20:
        for t in ticks:
            for p in ticks:
                color = "white" if shares[t, p] > 0.5 else "black"
                axes.text(p, t, str(confusion[t, p]), ha="center", va="center", color=color)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    write_atomic(path, image.getvalue())
    return True
