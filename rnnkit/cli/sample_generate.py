"""The conditioned generator's half of ``rnnkit sample``: texts written under a condition.

``rnnkit sample`` (``rnnkit.cli.sample``) adds these flags to its parser and hands a run
folder that holds a generator (task generate) to ``run``. ``--condition NAME`` chooses a
category (an unknown one lists the known ones), ``--condition-vector`` gives the numbers
of a feature-conditioned model; ``--count`` texts are printed one per line, each starting
with ``--prime`` (one line; characters never seen in training get a note) and ending where
the model ends it (or after ``--length`` characters).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rnnkit.cli.arguments import positive_int
from rnnkit.cli.prime_note import note_unknown_prime
from rnnkit.data.conditioned_text import category_ids, named_categories
from rnnkit.errors import UserError
from rnnkit.train.tasks.generate import TrainedGenerator, generate_texts, load_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "conditioned generators", "for a generator's run (task generate)"
    )
    group.add_argument("--condition", metavar="NAME", help="the category to write under")
    group.add_argument(
        "--condition-vector",
        metavar="NUMBERS",
        help="the feature vector to write under, numbers separated by commas (or spaces)",
    )
    group.add_argument(
        "--count", type=positive_int, metavar="N", help="texts to write, one a line (default 1)"
    )


def run(args: argparse.Namespace, folder: Path) -> int:
    """Write ``--count`` texts from the generator in FOLDER (chosen from ``args.folder``)."""
    trained = load_generator(folder)
    condition = condition_from(trained, args.condition, args.condition_vector)
    prime = args.prime or ""
    if "\n" in prime or "\r" in prime:  # a line break ends a text: the prime would end it
        raise UserError("--prime: a text is one line; give a prime without a line break")
    note_unknown_prime(trained.tokenizer, prime)
    for text in generate_texts(
        trained,
        condition,
        args.count or 1,
        prime,
        args.length,
        args.temperature,
        args.top_k,
        args.seed,
    ):
        print(text)
        sys.stdout.flush()
    return 0


def condition_from(trained: TrainedGenerator, name: str | None, numbers: str | None):
    """The model's condition from ``--condition`` or ``--condition-vector``: exactly the
    kind the model is conditioned on."""
    model = trained.model
    if model.condition == "category":
        if numbers is not None:
            raise UserError(
                "--condition-vector is for a feature-conditioned model; this one is "
                "conditioned on categories: give --condition NAME"
            )
        if name is None:
            raise UserError(f"--condition is needed: one of {named_categories(trained.categories)}")
        return int(category_ids([name], trained.categories, "--condition")[0])
    if name is not None:
        raise UserError(
            f"--condition is for a model conditioned on categories; this one is conditioned "
            f"on vectors of {model.feature_size} numbers: give --condition-vector"
        )
    if numbers is None:
        raise UserError(
            f"--condition-vector is needed: {model.feature_size} numbers separated by commas"
        )
    try:
        row = np.array([float(part) for part in numbers.replace(",", " ").split()])
    except ValueError:
        raise UserError(f"--condition-vector: {numbers!r} is not a list of numbers") from None
    if row.size != model.feature_size:
        raise UserError(
            f"--condition-vector: expected {model.feature_size} finite numbers, got "
            f"{row.size} ({numbers!r})"
        )
    if not np.all(np.isfinite(row)):
        raise UserError(
            f"--condition-vector: number {int(np.argmin(np.isfinite(row))) + 1} of "
            f"{numbers!r} is not finite; give finite numbers"
        )
    return row
