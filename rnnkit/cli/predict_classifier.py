"""The classifier half of ``rnnkit predict``: the most likely label of each text.

Each text gets a line ``<label><TAB><probability><TAB><text>``, or with ``--json`` one JSON
object with the probability of every class, as soon as it is read. A word-level model reads
raw text split as its training words were (``rnnkit.data.word_split``: "earth?" as
``earth ?`` where the model knows ``earth`` and ``?``), or with ``--pretokenized`` split at
whitespace alone. A blank line, or a text
with nothing the model can read (only characters unseen in training), gets a note on stderr
and an empty answer (``-`` for the label, or ``"label": null``), so the answers stay line
for line with the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.inputs import check_pretokenized, input_texts
from rnnkit.data.classification import encode_texts
from rnnkit.data.word_split import split_words
from rnnkit.errors import UserError
from rnnkit.nn import softmax
from rnnkit.plural import counted, were
from rnnkit.train.classifier_evaluation import classify
from rnnkit.train.tasks.classifier import load_classifier

SHARED_FLAGS = ("pretokenized",)  # the taggers' flag: word-level classifiers read it too


def run(args: argparse.Namespace, folder: Path) -> int:
    trained = load_classifier(folder)
    names = trained.labels.labels
    tokenizer = trained.tokenizer
    check_pretokenized(args, folder, tokenizer.kind == "word")
    split = tokenizer.kind == "word" and not args.pretokenized
    for origin, text in input_texts(args, trained.config.data.encoding):
        # Raw text read as the training words were written ("earth?" as earth ?).
        read = " ".join(split_words(text, tokenizer.knows)) if split else text
        try:
            sequences, skipped = encode_texts(tokenizer, [read], [origin])
        except UserError as error:
            print(f"rnnkit: note: {error}; no label", file=sys.stderr)
            answer(args.json, text, None, names)
            continue
        if skipped:
            print(f"rnnkit: note: {origin}: {left_out(skipped)}", file=sys.stderr)
        logits = classify(trained.model, sequences).astype("float64")
        answer(args.json, text, softmax(logits, axis=1)[0], names)
        sys.stdout.flush()  # a reader of a pipe gets each answer as soon as it is made
    return 0


def left_out(skipped: int) -> str:
    """``"1 character not seen in training was left out"``, in the plural past one."""
    return f"{counted(skipped, 'character')} not seen in training {were(skipped)} left out"


def answer(as_json: bool, text: str, row, names: list[str]) -> None:
    if row is None:
        if as_json:
            print(json.dumps({"text": text, "label": None}, ensure_ascii=False))
        else:
            print(f"-\t\t{text}")
        return
    best = int(row.argmax())
    if as_json:
        record = {
            "text": text,
            "label": names[best],
            "probability": float(row[best]),
            "probabilities": {name: float(p) for name, p in zip(names, row, strict=True)},
        }
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(f"{names[best]}\t{row[best]:.4f}\t{text}")
