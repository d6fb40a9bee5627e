"""Training a ``Seq2Seq`` on length-bucketed batches of pairs, resumable exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s; this module supplies
the encoder-decoder's part. One step trains on one batch of pairs: the mean cross-entropy
per target token (``Seq2Seq.loss_and_backward``, with the model's scheduled sampling and
the settings' label smoothing; validation's loss is never smoothed).
An epoch's batches come from ``bucket_batches`` seeded by ``(seed, epoch)``, so a resumed
run goes on at the batch it stopped before. Validation measures the teacher-forced loss
per token and the exact match of greedy outputs (right if equal to any reference of the
source); the best model is the one with the highest exact match.

``decode_sources`` runs a trained model over many sources (sorted by length into batches,
results in the order given), greedily or with beam search.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.length_buckets import pad_batch, sorted_batches
from rnnkit.data.parallel_batches import PAD_ID, Vocabulary, batches, make_batch
from rnnkit.models.beam_search import MOST_RATIO, Hypothesis, beam_search, greedy_search
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.train.batched_trainer import BatchedSettings, BatchedTrainer
from rnnkit.train.progress import item_bar
from rnnkit.train.settings import batch_size_option

EVAL_BATCH_SIZE = 256


@dataclass
class Seq2SeqSettings(BatchedSettings):
    """``BatchedSettings`` plus the loss's label smoothing and the decoding limit of
    validation."""

    batch_size: int = batch_size_option(64, "pairs per step")
    # 0.1 raised validation exact match on CMUdict G2P, DLFS2 addition and dates alike
    # (benchmarks/RESULTS.md); runs saved before the setting existed trained without it.
    label_smoothing: float = option(
        0.1,
        "train towards (1 - this) on the next token and this spread over the vocabulary",
        minimum=0,
        below=1,
        older_runs=0.0,
    )
    max_length_ratio: float = option(
        3.0,
        "the longest output decoded, as a multiple of the source's length",
        minimum=1e-3,
        maximum=MOST_RATIO,
        on_resume=CHANGEABLE,
    )


@dataclass
class EncodedPairs:
    """Id sequences side by side; ``references[i]`` are the target id sequences that count
    as right for source ``i`` (itself among them)."""

    sources: list[np.ndarray]
    targets: list[np.ndarray]
    references: list[list[list[int]]]

    def __len__(self) -> int:
        return len(self.sources)


def decode_sources(
    model: Seq2Seq | Sequence[Seq2Seq],
    sources: Sequence[np.ndarray],
    beam_size: int = 1,
    alpha: float = 0.0,
    nbest: int = 1,
    max_length_ratio: float = 3.0,
    batch_size: int = EVAL_BATCH_SIZE,
    progress: bool | None = False,
) -> list[list[Hypothesis]]:
    """The ``nbest`` outputs of each source (greedy for ``beam_size`` 1), in order given;
    MODEL may be a list of models decoding as an ensemble (``rnnkit.models.beam_search``).
    PROGRESS: a bar over the sources on stderr (None: on a terminal only; ``item_bar``)."""
    results: list[list[Hypothesis]] = [[] for _ in sources]
    bar = item_bar(len(sources), "source", progress)
    try:
        for group in sorted_batches([len(s) for s in sources], batch_size):
            src, lengths = pad_batch([sources[i] for i in group], PAD_ID)
            if beam_size == 1 and nbest == 1:
                found = [[h] for h in greedy_search(model, src, lengths, max_length_ratio)]
            else:
                found = beam_search(
                    model, src, lengths, beam_size, alpha, nbest, max_length_ratio
                )
            for row, hypotheses in zip(group, found, strict=True):
                results[row] = hypotheses
            bar.update(len(group))
    finally:
        bar.close()
    return results


def teacher_forced_loss(model: Seq2Seq, pairs: EncodedPairs) -> float:
    """Mean cross-entropy per target token (its end token included), teacher forced."""
    total, tokens = 0.0, 0
    for batch in batches(pairs.sources, pairs.targets, EVAL_BATCH_SIZE):
        loss, count = model.token_losses(*batch.arrays())
        total, tokens = total + loss, tokens + count
    return total / tokens


class Seq2SeqTrainer(BatchedTrainer):
    """Trains MODEL on TRAIN, validating on VALID, saving into FOLDER; the vocabularies
    are saved in config.json. Call ``restore`` to continue a checkpoint, then ``train``."""

    watched = "exact_match"
    higher_is_better = True
    # Exact match moves in whole pairs and stays at 0 for a while on hard data: the loss
    # tells whether the model is still learning there, so the rate is not halved away.
    tie_breaker = "loss"
    task_name = "seq2seq"

    def __init__(
        self,
        model: Seq2Seq,
        vocabularies: tuple[Vocabulary, Vocabulary],
        train: EncodedPairs,
        valid: EncodedPairs,
        settings: Seq2SeqSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, train, valid, settings, folder, info)
        self.vocabularies = vocabularies

    def example_lengths(self, train: EncodedPairs) -> list[int]:
        return [len(s) for s in train.sources]

    def compute_step(self) -> tuple[float, int]:
        data, group = self.train_set, self.current_batch()
        batch = make_batch([data.sources[i] for i in group], [data.targets[i] for i in group])
        loss = self.model.loss_and_backward(
            *batch.arrays(), label_smoothing=self.settings.label_smoothing
        )
        return loss, int(batch.tgt_lengths.sum())

    def validate(self) -> dict[str, float]:
        data = self.valid_set
        found = decode_sources(
            self.model, data.sources, max_length_ratio=self.settings.max_length_ratio
        )
        hits = sum(
            any(hypotheses[0].tokens == ref for ref in refs)
            for hypotheses, refs in zip(found, data.references, strict=True)
        )
        return {
            "loss": teacher_forced_loss(self.model, data),
            "exact_match": hits / len(data),
        }

    def describe(self, measures: dict[str, float]) -> str:
        return f"exact match {measures['exact_match']:.2%}, loss {measures['loss']:.4f}"

    def config(self) -> dict[str, Any]:
        source, target = self.vocabularies
        return {
            **self.base_config(),
            "vocabularies": {"source": source.to_dict(), "target": target.to_dict()},
        }
