"""``rnnkit predict``: a trained model's answer for each input, whatever its task.

The flags of every task are on one parser (each task's in a group of its own); the run
folder's task chooses which module answers: ``predict_classifier``, ``predict_seq2seq``,
``predict_tagger`` or ``predict_forecast``. Texts come from the arguments, ``--input FILE``
or stdin, one per line, read as they arrive (``rnnkit.cli.inputs``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnkit.cli import predict_classifier, predict_forecast, predict_seq2seq, predict_tagger
from rnnkit.cli.arguments import add_json_flag, add_model_command, add_part_arguments, run_part
from rnnkit.cli.inputs import add_input_arguments
from rnnkit.errors import UserError
from rnnkit.train.tasks import a_run_of

NAME = "predict"
HELP = "answer inputs with a trained model: labels, tags, transductions, forecasts"
DESCRIPTION = (
    "Print a trained model's answer for each text: a classifier's label and "
    "its probability, a tagger's tag per word, a seq2seq model's outputs with their scores "
    "(the log-probability, divided by the length penalty with --alpha), or a "
    "forecaster's next steps. The texts are the arguments, or else the lines of --input "
    "or stdin (one text per line). Options go before DIR or after the texts."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_model_command(subparsers, NAME, HELP, DESCRIPTION)
    parser.add_argument("texts", metavar="TEXT", nargs="*", help="texts to answer")
    add_json_flag(
        parser,
        "one JSON object per text (a classifier's: text, label, probability and the "
        "probabilities of every class)",
    )
    add_input_arguments(parser)
    add_part_arguments(parser, PARTS)
    return parser


def run(args: argparse.Namespace) -> int:
    return run_part(args, PARTS)


class Generating:
    """The part for the run of a task that generates text (TASK, its name): refused, with
    the command that fits."""

    def __init__(self, task: str) -> None:
        self.task = task

    def run(self, args: argparse.Namespace, folder: Path) -> int:
        raise UserError(
            f"{folder} holds {a_run_of(self.task)}, which generates text rather than "
            f"answering it; use rnnkit sample {folder}"
        )


# The module that answers with each task's runs.
PARTS = {
    "classify": predict_classifier,
    "seq2seq": predict_seq2seq,
    "tag": predict_tagger,
    "forecast": predict_forecast,
    "lm": Generating("lm"),
    "generate": Generating("generate"),
}
