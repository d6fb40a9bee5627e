"""``rnnkit predict``: label texts with a trained sequence classifier.

Texts come from the command line, or one per line from stdin. Each gets a line
``<label><TAB><probability><TAB><text>``, or with ``--json`` one JSON object with the
probability of every class.
"""

from __future__ import annotations

import argparse
import json
import sys

from rnnkit.cli import predict_forecast, predict_seq2seq, predict_tagger
from rnnkit.cli.arguments import add_model_folder_argument
from rnnkit.data.classification import encode_texts
from rnnkit.errors import UserError
from rnnkit.nn import softmax
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.classifier_evaluation import classify
from rnnkit.train.run_config import model_folder, saved_task
from rnnkit.train.tasks.classifier import load_classifier

NAME = "predict"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="label texts with a trained classifier",
        description="Print the most likely label of each text and its probability. The "
        "texts are the arguments, or else the lines of stdin (one text per line). Options "
        "go before DIR or after the texts.",
    )
    add_model_folder_argument(parser)
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="texts to label")
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per text: text, label, probability and the probabilities of "
        "every class",
    )
    predict_seq2seq.add_arguments(parser)
    predict_forecast.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    folder = model_folder(args.folder)
    task = saved_task(load_checkpoint(folder), folder)
    if task == "seq2seq":
        return predict_seq2seq.run(args, folder)
    if task == "tag":
        return predict_tagger.run(args, folder)
    if task == "forecast":
        return predict_forecast.run(args, folder)
    trained = load_classifier(folder)
    if args.texts:
        texts, origins = list(args.texts), [f"text {i + 1}" for i in range(len(args.texts))]
    else:
        texts = sys.stdin.read().splitlines()
        origins = [f"stdin line {i + 1}" for i in range(len(texts))]
        if not texts:
            raise UserError("no texts: give them as arguments or one per line on stdin")
    for text, origin in zip(texts, origins, strict=True):
        if not text.strip():
            raise UserError(f"{origin} is empty; give one non-empty text per line")
    sequences, skipped = encode_texts(trained.tokenizer, texts, origins)
    if skipped:
        print(
            f"rnnkit: note: {skipped} characters not seen in training were left out",
            file=sys.stderr,
        )
    probabilities = softmax(classify(trained.model, sequences).astype("float64"), axis=1)
    names = trained.labels.labels
    for text, row in zip(texts, probabilities, strict=True):
        best = int(row.argmax())
        if args.json:
            record = {
                "text": text,
                "label": names[best],
                "probability": float(row[best]),
                "probabilities": {name: float(p) for name, p in zip(names, row, strict=True)},
            }
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"{names[best]}\t{row[best]:.4f}\t{text}")
    return 0
