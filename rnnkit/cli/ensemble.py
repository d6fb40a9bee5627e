"""``--ensemble DIR`` of ``rnnkit predict`` and ``rnnkit eval`` for seq2seq runs: more
trained models that decode together with the run's, as one model whose next-token
distribution is the mean of theirs (``rnnkit.models.beam_search``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.train.run_config import model_folder
from rnnkit.train.tasks.seq2seq import TrainedSeq2Seq, load_ensemble, load_seq2seq


def add_ensemble_flag(group: Any) -> None:
    """``--ensemble DIR`` (repeatable) in GROUP, an argument group of a parser."""
    group.add_argument(
        "--ensemble",
        action="append",
        default=[],
        metavar="DIR",
        help="decode with this run's model too, averaging the models' next-token "
        "probabilities (repeat for more; runs trained on the same data and tokenizers)",
    )


def load_models(folder: Path, args: argparse.Namespace) -> TrainedSeq2Seq:
    """The model in FOLDER, with those of ``--ensemble`` (each run's best model) if given."""
    if not args.ensemble:
        return load_seq2seq(folder)
    return load_ensemble([folder, *(model_folder(run) for run in args.ensemble)])
