"""Training a ``SequenceTagger`` on length-bucketed batches of sentences, resumable exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s; this module supplies
the tagger's part. One step trains on one batch of sentences: the loss per token
(``SequenceTagger.loss_and_backward``). An epoch's batches come from ``bucket_batches``
seeded by ``(seed, epoch)``, and the words read as ``<unk>`` (``unk_rate``) from a
generator seeded by ``(seed, epoch, batch)``, so any batch can be made again from three
numbers and a resumed run goes on at the batch it stopped before. Validation measures the
loss, token accuracy and, for span tag sets with ``seqeval`` installed, span F1; the best
model is the one with the highest validation token accuracy.

``tag_encoded`` and ``evaluate_tagger`` run a trained tagger over many sentences (sorted by
length into batches, results in the order given).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import option
from rnnkit.data.conll import tag_scheme
from rnnkit.data.length_buckets import sorted_batches
from rnnkit.data.tagging import EncodedSentences, TaggingVocabulary, tagger_batch
from rnnkit.models.sequence_tagger import SequenceTagger
from rnnkit.train.batched_trainer import BatchedSettings, BatchedTrainer
from rnnkit.train.settings import batch_size_option
from rnnkit.train.tagging_metrics import span_scores, tagging_report

EVAL_BATCH_SIZE = 128


@dataclass
class TaggerSettings(BatchedSettings):
    """``BatchedSettings`` plus the rate of ``<unk>`` substitution."""

    # As chosen on UD English-LinES dev (benchmarks/tag.py), as is unk_rate.
    batch_size: int = batch_size_option(16, "sentences per step")
    unk_rate: float = option(
        0.5,
        "read each word seen once in training as <unk> with this probability, so <unk> "
        "learns what rare words look like",
        minimum=0,
        maximum=1,
    )


def seqeval_installed() -> bool:
    return importlib.util.find_spec("seqeval") is not None


def char_pad_id(model: SequenceTagger) -> int | None:
    """The padding id of the model's characters, or None without a character encoder."""
    return model.char_encoder.pad_id if model.char_hidden_size > 0 else None


def tag_encoded(
    model: SequenceTagger, data: EncodedSentences, batch_size: int = EVAL_BATCH_SIZE
) -> tuple[list[np.ndarray], float | None]:
    """``(tag ids of each sentence, mean loss per token or None)``, in evaluation mode;
    the loss needs ``data.tags``."""
    predictions: list[np.ndarray] = [np.empty(0, np.int64)] * len(data)
    total, tokens = 0.0, 0
    for batch in sorted_batches(data.lengths, batch_size):
        ids, lengths, tags, chars = tagger_batch(data, batch, model.pad_id, char_pad_id(model))
        for row, tagged in zip(batch, model.predict(ids, lengths, chars), strict=True):
            predictions[row] = tagged[: len(data.words[row])]
        if tags is not None:
            total += model.loss(ids, lengths, tags, chars) * int(lengths.sum())
            tokens += int(lengths.sum())
    return predictions, (total / tokens if tokens else None)


def evaluate_tagger(
    model: SequenceTagger,
    data: EncodedSentences,
    vocabulary: TaggingVocabulary,
    spans: bool = True,
) -> tuple[float, dict[str, Any]]:
    """``(mean loss per token, tagging_report)`` of MODEL on the tagged DATA; with SPANS,
    span figures for span tag sets (which need ``seqeval``)."""
    predicted, loss = tag_encoded(model, data)
    names = vocabulary.tags.labels
    gold = [[names[i] for i in sentence] for sentence in data.tags]
    guessed = [[names[i] for i in sentence] for sentence in predicted]
    return float(loss), tagging_report(gold, guessed, names, "auto" if spans else None)


class TaggerTrainer(BatchedTrainer):
    """Trains MODEL on TRAIN, validating on VALID, saving into FOLDER; VOCABULARY is saved
    in config.json. Call ``restore`` to continue a checkpoint, then ``train``."""

    watched = "accuracy"
    higher_is_better = True
    task_name = "tag"

    def __init__(
        self,
        model: SequenceTagger,
        vocabulary: TaggingVocabulary,
        train: EncodedSentences,
        valid: EncodedSentences,
        settings: TaggerSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, train, valid, settings, folder, info)
        self.vocabulary = vocabulary
        names = vocabulary.tags.labels
        self.valid_tags = [[names[i] for i in sentence] for sentence in valid.tags]
        self.span_f1 = tag_scheme(self.valid_tags) is not None and seqeval_installed()

    def compute_step(self) -> tuple[float, int]:
        progress, settings = self.progress, self.settings
        batch = self.current_batch()
        rng = np.random.default_rng([settings.seed, progress.epoch, progress.batch])
        ids, lengths, tags, chars = tagger_batch(
            self.train_set,
            batch,
            self.model.pad_id,
            char_pad_id(self.model),
            settings.unk_rate,
            self.vocabulary.singletons,
            rng,
        )
        return self.model.loss_and_backward(ids, lengths, tags, chars), int(lengths.sum())

    def validate(self) -> dict[str, float]:
        predicted, loss = tag_encoded(self.model, self.valid_set)
        hits = sum(int(np.sum(p == g)) for p, g in zip(predicted, self.valid_set.tags, strict=True))
        measures = {"loss": float(loss), "accuracy": hits / int(self.valid_set.lengths.sum())}
        if self.span_f1:
            names = self.vocabulary.tags.labels
            guessed = [[names[i] for i in sentence] for sentence in predicted]
            measures["span_f1"] = span_scores(self.valid_tags, guessed)["f1"]
        return measures

    def describe(self, measures: dict[str, float]) -> str:
        span = f", span F1 {measures['span_f1']:.4f}" if "span_f1" in measures else ""
        return f"token accuracy {measures['accuracy']:.2%}{span}, loss {measures['loss']:.4f}"

    def config(self) -> dict[str, Any]:
        return {**self.base_config(), "vocabulary": self.vocabulary.to_dict()}
