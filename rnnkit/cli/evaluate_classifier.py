"""The classifier half of ``rnnkit eval``: accuracy, macro-F1, per-class precision and
recall, and the confusion matrix of a trained classifier on labelled examples.

``rnnkit eval`` (``rnnkit.cli.evaluate``) adds these flags to its parser and hands a run
folder that holds a classifier to ``run``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from rnnkit.cli.predict_classifier import left_out
from rnnkit.data.classification import FORMATS, encode_labelled_texts, read_labelled_texts
from rnnkit.train.classification_metrics import format_report, save_confusion_png
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.tasks.classifier import load_classifier


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "classifiers", "for a classifier's run (defaults: as in training)"
    )
    group.add_argument("--format", choices=FORMATS, help="the examples' format")
    group.add_argument("--label-col", metavar="COLUMN", help="tsv/csv: the label column")
    group.add_argument("--text-col", metavar="COLUMN", help="tsv/csv: the text column")
    group.add_argument(
        "--png",
        metavar="PATH",
        help="draw the confusion matrix into this PNG file (needs matplotlib), a tagger's "
        "too; a picture that cannot be drawn is a note, never a failed evaluation",
    )


def run(args: argparse.Namespace, folder: Path) -> int:
    """Evaluate the classifier in FOLDER (the checkpoint chosen from ``args.folder``)."""
    trained = load_classifier(folder)
    # Each flag not given is read as in training: the same format, columns and encoding.
    saved = trained.config.data
    data = read_labelled_texts(
        args.data,
        args.format or saved.format,
        args.label_col or saved.label_col,
        args.text_col or saved.text_col,
        args.encoding or saved.encoding,
    )
    encoded, skipped = encode_labelled_texts(data, trained.tokenizer, trained.labels, args.data)
    loss, report = evaluate_classifier(trained.model, encoded, trained.labels.labels)
    if args.json:
        print(json.dumps({**report, "loss": loss}))
    else:
        print(f"{folder} on {args.data}: loss {loss:.4f}")
        print(format_report(report))
    notes = sys.stderr if args.json else sys.stdout
    if skipped:
        print(left_out(skipped), file=notes)
    if args.png:
        draw_confusion(args.png, report, notes)
    return 0


def draw_confusion(png: str, report: dict, notes: TextIO) -> None:
    """Draw REPORT's confusion matrix into the file PNG (``--png``) and say so on NOTES.

    The figures are printed already: a picture that fails, however it fails (a folder that
    cannot be written, a label matplotlib cannot typeset), is only a note.
    """
    try:
        drawn = save_confusion_png(Path(png), report)
    except Exception as error:  # noqa: BLE001
        # An OSError's strerror, without Python's "[Errno N]" and the path quoted again
        reason = getattr(error, "strerror", None) or " ".join(str(error).split())
        reason = reason or type(error).__name__
        print(f"rnnkit: note: no confusion matrix drawn in {png}: {reason}", file=sys.stderr)
    else:
        if drawn:
            print(f"confusion matrix drawn in {png}", file=notes)
        else:
            print("rnnkit: note: no confusion matrix drawn: matplotlib is missing", file=sys.stderr)
