"""Classification metrics against figures worked out by hand, and the confusion PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.train.classification_metrics import (
    classification_report,
    confusion_matrix,
    format_report,
    save_confusion_png,
)

# 3 classes; class "c" is never predicted, and one "a" is taken for a "b".
TARGETS = np.array([0, 0, 0, 1, 1, 2])
PREDICTIONS = np.array([0, 0, 1, 1, 1, 1])
LABELS = ["a", "b", "c"]


def test_confusion_rows_are_true_classes() -> None:
    assert confusion_matrix(TARGETS, PREDICTIONS, 3).tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]


def test_report_figures() -> None:
    report = classification_report(TARGETS, PREDICTIONS, LABELS)
    assert report["accuracy"] == pytest.approx(4 / 6)
    a, b, c = (report["per_class"][label] for label in LABELS)
    assert (a["precision"], a["recall"], a["support"]) == (1.0, pytest.approx(2 / 3), 3)
    assert (b["precision"], b["recall"]) == (0.5, 1.0)
    assert (c["precision"], c["recall"], c["f1"]) == (0.0, 0.0, 0.0)  # never predicted
    # f1_a = 2 (1)(2/3) / (5/3) = 0.8; f1_b = 2 (0.5)(1) / 1.5 = 2/3; f1_c = 0
    assert report["macro_f1"] == pytest.approx((0.8 + 2 / 3 + 0.0) / 3)
    json.dumps(report)  # every value is JSON-ready


def test_balanced_accuracy_is_the_mean_recall_of_the_classes_with_targets() -> None:
    report = classification_report(TARGETS, PREDICTIONS, LABELS)
    assert report["balanced_accuracy"] == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)
    # "c" has no targets here: it is left out of the mean, not counted as recall 0
    report = classification_report(np.array([0, 0, 1]), np.array([0, 1, 1]), LABELS)
    assert report["balanced_accuracy"] == pytest.approx((1 / 2 + 1.0) / 2)


def test_macro_f1_leaves_out_classes_absent_from_targets_and_predictions() -> None:
    report = classification_report(np.array([0, 1]), np.array([0, 1]), ["a", "b", "c"])
    assert report["macro_f1"] == 1.0
    assert report["per_class"]["c"]["support"] == 0


def test_format_report_names_every_class() -> None:
    text = format_report(classification_report(TARGETS, PREDICTIONS, LABELS))
    assert text.startswith(
        "accuracy 66.67% (6 examples), balanced accuracy 55.56%, macro-F1 0.4889"
    )
    assert all(f"\n{label} " in text for label in LABELS)


def test_confusion_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "confusion.png"
    assert save_confusion_png(path, classification_report(TARGETS, PREDICTIONS, LABELS))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]
