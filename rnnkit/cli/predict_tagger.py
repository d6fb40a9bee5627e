"""The tagger half of ``rnnkit predict``: tag every word of each sentence.

``rnnkit predict`` (``rnnkit.cli.predict``) hands a run folder that holds a tagger to
``run``. Sentences are the arguments, or else the lines of stdin, split into words as
tagged corpora split them (punctuation apart, and the clitics the tagger knows:
``rnnkit.data.word_split``), or with ``--pretokenized`` at whitespace alone. Each sentence
gets one line of ``word/TAG`` pairs, or with ``--json`` one object ``{"text": ...,
"tokens": [...], "tags": [...]}``, its text as given, as the other tasks' answers have it.
Words never seen in training are read as ``<unk>`` (their characters still count, with a
character encoder). An empty sentence gets a note on stderr naming it and an empty answer
(a blank line, or with ``--json`` no tokens and no tags), so the answers stay line for line
with the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.cli.inputs import input_texts
from rnnkit.data.word_split import split_words
from rnnkit.train.tasks.tagging import load_tagger, tag_sentences


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("taggers", "for a run of rnnkit train --task tag")
    group.add_argument(
        "--pretokenized",
        action="store_true",
        help="the texts are split into words already: split them at whitespace alone "
        "(default: split punctuation and the clitics the model knows from words, as "
        "tagged corpora do: \"can't.\" is ca n't .); for word-level classifiers and "
        "sequence-to-sequence sources too",
    )


def run(args: argparse.Namespace, folder: Path) -> int:
    """Tag the sentences of ARGS with the tagger in FOLDER."""
    trained = load_tagger(folder)
    knows = trained.vocabulary.knows
    for origin, line in input_texts(args, trained.config.data.encoding):
        words = line.split() if args.pretokenized else split_words(line, knows)
        if not words:
            print(f"rnnkit: note: {origin} is empty; no tags", file=sys.stderr)
            answer = {"text": line, "tokens": [], "tags": []}
            print(json.dumps(answer, ensure_ascii=False) if args.json else "", flush=True)
            continue
        (tags,) = tag_sentences(trained, [words])
        if args.json:
            answer = {"text": line, "tokens": words, "tags": tags}
            print(json.dumps(answer, ensure_ascii=False))
        else:
            print(" ".join(f"{word}/{tag}" for word, tag in zip(words, tags, strict=True)))
    return 0
