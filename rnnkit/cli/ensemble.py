"""``--ensemble DIR`` of ``rnnkit predict`` and ``rnnkit eval`` for seq2seq runs: more
trained models that decode together with the run's, as one model whose next-token
distribution is the mean of theirs (``rnnkit.models.beam_search``).

``--last-weights`` adds each run's last weights (the run folder itself) beside its best
model (``RUN/best``): a snapshot ensemble, two members from one run's training. A run
without a best model, or one given as its ``best`` folder, gives that one model only."""

from __future__ import annotations

import argparse
import sys
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
    group.add_argument(
        "--last-weights",
        action="store_true",
        help="decode each run's last weights too, beside its best model (two members a run)",
    )


def run_members(run: str | Path, last_weights: bool) -> list[Path]:
    """The model folders RUN decodes with: its best model, and with LAST_WEIGHTS the
    weights its training ended with when those are another checkpoint."""
    best = model_folder(run)
    return [best, Path(run)] if last_weights and best != Path(run) else [best]


def load_models(folder: Path, args: argparse.Namespace) -> TrainedSeq2Seq:
    """The model in FOLDER (the checkpoint chosen from the run ``args.folder``), with those
    of ``--ensemble`` (each run's best model) and ``--last-weights`` if given (FOLDER is
    ``run_members(args.folder)[0]``)."""
    if not args.ensemble and not args.last_weights:
        return load_seq2seq(folder)
    runs = [args.folder, *args.ensemble]
    members = [run_members(run, args.last_weights) for run in runs]
    for run, found in zip(runs, members, strict=True):
        if args.last_weights and len(found) == 1:
            print(
                f"rnnkit: note: --last-weights adds nothing for {run}: it holds one model "
                "(give a run folder that has a best/ model beside its last weights)",
                file=sys.stderr,
            )
    return load_ensemble([member for found in members for member in found])
