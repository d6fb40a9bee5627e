"""The tagger half of ``rnnkit predict``: tag every word of each sentence.

``rnnkit predict`` (``rnnkit.cli.predict``) hands a run folder that holds a tagger to
``run``. Sentences are the arguments, or else the lines of stdin, split into words at
whitespace. Each sentence gets one line of ``word/TAG`` pairs, or with ``--json`` one
object ``{"tokens": [...], "tags": [...]}``. Words never seen in training are read as
``<unk>`` (their characters still count, with a character encoder). An empty sentence is a
one-line error naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.errors import UserError
from rnnkit.train.tasks.tagging import load_tagger, tag_sentences


def run(args: argparse.Namespace, folder: Path) -> int:
    """Tag the sentences of ARGS with the tagger in FOLDER."""
    trained = load_tagger(folder)
    if args.texts:
        lines, origin = list(args.texts), "sentence"
    else:
        lines, origin = sys.stdin.read().splitlines(), "stdin line"
        if not lines:
            raise UserError("no sentences: give them as arguments or one per line on stdin")
    sentences = [line.split() for line in lines]
    for number, words in enumerate(sentences, start=1):
        if not words:
            raise UserError(f"{origin} {number} is empty; give one non-empty sentence per line")
    for words, tags in zip(sentences, tag_sentences(trained, sentences), strict=True):
        if args.json:
            print(json.dumps({"tokens": words, "tags": tags}, ensure_ascii=False))
        else:
            print(" ".join(f"{word}/{tag}" for word, tag in zip(words, tags, strict=True)))
    return 0
