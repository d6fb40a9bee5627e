"""The tagger half of ``rnnkit eval``: token accuracy, per-tag precision, recall and F1,
span-level F1 for BIO-style tag sets, and the confusion matrix of a trained tagger.

``rnnkit eval`` (``rnnkit.cli.evaluate``) adds these flags to its parser and hands a run
folder that holds a tagger to ``run``. The data is read as in training (format, column and
encoding), unless ``--tag-format``, ``--column`` or ``--encoding`` say otherwise; ``--png``
draws the confusion matrix. A tag the model was not trained on is a one-line error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.arguments import read_as_in_training
from rnnkit.cli.evaluate_classifier import draw_confusion
from rnnkit.data.conll import CONLLU_COLUMNS, FORMATS, read_tagged
from rnnkit.errors import UserError
from rnnkit.train.tagging_metrics import format_tagging_report
from rnnkit.train.tasks.tagging import evaluate_tagged, load_tagger

SHARED_FLAGS = ("png",)  # the classifiers' --png draws a tagger's confusion matrix too


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("taggers", "for a tagger's run (defaults: as in training)")
    group.add_argument(
        "--tag-format", choices=FORMATS, help="the sentences' format (auto, conllu, columns)"
    )
    group.add_argument(
        "--column", choices=tuple(CONLLU_COLUMNS), help="conllu: the column of the tags"
    )


def run(args: argparse.Namespace, folder: Path) -> int:
    """Evaluate the tagger in FOLDER (the checkpoint chosen from ``args.folder``)."""
    trained = load_tagger(folder)
    saved = trained.config.data
    format = args.tag_format or saved.format
    try:
        data = read_tagged(
            args.data, format, args.column or saved.column, args.encoding or saved.encoding
        )
        report = evaluate_tagged(trained, data, args.data)
    except UserError as error:
        if args.tag_format or format == "auto":
            raise
        raise UserError(read_as_in_training(error, format, "sentences", "--tag-format")) from None
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{folder} on {args.data}: loss {report['loss']:.4f}")
        print(format_tagging_report(report))
    if args.png:
        table = {
            "labels": report["tags"],
            "confusion": report["confusion"],
            "accuracy": report["token_accuracy"],
            "macro_f1": report["macro_f1"],
        }
        draw_confusion(args.png, table, sys.stderr if args.json else sys.stdout)
    return 0
