"""The conditioned generator's half of ``rnnkit eval``: held-out bits per character, each
text under its own condition.

``rnnkit eval`` (``rnnkit.cli.evaluate``) adds these flags to its parser and hands a run
folder that holds a generator (task generate) to ``run``. ``--data`` is read as the
training data was: a folder of one file per category, TSV ``condition<TAB>text`` lines, or
with ``--features`` a text file whose lines have the rows of a ``.npy`` matrix. A
category the model does not know, or a matrix whose rows do not match the lines, is a
one-line error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.errors import UserError
from rnnkit.train.tasks.generate import evaluate_generator, load_generator, read_conditioned

GROUP = ("conditioned generators", "for a generator's run (task generate)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group(*GROUP).add_argument(
        "--features",
        metavar="FILE",
        help="a .npy matrix of one feature row per line of --data (feature-conditioned models)",
    )


def run(args: argparse.Namespace, folder: Path) -> int:
    """Evaluate the generator in FOLDER (the checkpoint chosen from ``args.folder``)."""
    trained = load_generator(folder)
    refuse_other_conditions(trained.model.condition, args, folder)
    encoding = args.encoding or trained.config.data.encoding
    data = read_conditioned(args.data, args.features, trained.model.condition, encoding)
    report = evaluate_generator(trained, data, args.features or args.data)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{folder} on {args.data}: {report['bits_per_char']:.4f} bits per character "
        f"(loss {report['loss']:.4f} nats) over {report['characters']:,} characters of "
        f"{report['texts']:,} texts, each under its own condition; "
        f"{report['unknown_characters']:,} unknown characters"
    )
    return 0


def refuse_other_conditions(condition: str, args: argparse.Namespace, folder: Path) -> None:
    """Refuse data of the other kind of condition than the model's (CONDITION), in eval's
    words: the reader's own messages name train's --condition, which eval has not."""
    if condition == "category" and args.features is not None:
        raise UserError(
            f"--features gives feature vectors, but {folder} is conditioned on categories; "
            "leave it out, and give --data as a folder of one file per category or "
            "condition<TAB>text lines"
        )
    if condition == "vector" and Path(args.data).is_dir():
        raise UserError(
            f"{args.data} is a folder of one file per category, but {folder} is conditioned "
            "on feature vectors; give a text file and its --features, or numbers<TAB>text lines"
        )
