"""Training a ``ConditionedLanguageModel`` on batches of conditioned texts, resumable exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s, the epochs of
length-bucketed batches ``BatchedTrainer``'s; this module supplies the generator's part.
A text is its token ids between two boundary tokens (``boundary + text + boundary``): the
model reads all but the last and predicts all but the first, so it learns how texts start
under their condition and where they end. One step trains on one batch of texts: the mean
cross-entropy per predicted token. Validation measures that loss on the validation texts,
each under its own condition, and its bits per character (``loss / ln 2``: every
predicted token is a character or the end of a text); the best model has the lowest.

``measure_conditioned`` is that measure for any encoded texts (``rnnkit eval``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.data.length_buckets import pad_batch, sorted_batches
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models.conditioned_language_model import ConditionedLanguageModel
from rnnkit.train.batched_trainer import BatchedSettings, BatchedTrainer

EVAL_BATCH_SIZE = 256


@dataclass
class EncodedConditioned:
    """``sequences[i]``: the token ids of text i between boundary tokens; ``conditions``:
    a category id per text ``(N,)`` or a feature row per text ``(N, F)``."""

    sequences: list[np.ndarray]
    conditions: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def lengths(self) -> np.ndarray:
        """Predicted tokens per text: its characters and its end."""
        return np.array([len(s) - 1 for s in self.sequences], dtype=np.int64)


def conditioned_batch(
    data: EncodedConditioned, rows: np.ndarray, pad_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(inputs (B, T), targets (B, T), conditions, lengths (B,))`` of the texts ROWS."""
    ids, lengths = pad_batch([data.sequences[i] for i in rows], pad_id)
    return ids[:, :-1], ids[:, 1:], data.conditions[rows], lengths - 1


def measure_conditioned(
    model: ConditionedLanguageModel, data: EncodedConditioned, batch_size: int = EVAL_BATCH_SIZE
) -> dict[str, float]:
    """``loss`` (nats per predicted token), ``bits_per_char`` and ``characters`` (tokens
    predicted) of MODEL on DATA, each text under its own condition, in evaluation mode."""
    total, count = 0.0, 0
    for rows in sorted_batches(data.lengths, batch_size):
        inputs, targets, conditions, lengths = conditioned_batch(data, rows, model.pad_id)
        predicted = int(lengths.sum())
        total += model.loss(inputs, targets, conditions, lengths) * predicted
        count += predicted
    loss = total / count
    return {"loss": loss, "bits_per_char": loss / math.log(2), "characters": count}


@dataclass
class GenerateSettings(BatchedSettings):
    """``BatchedSettings``: texts per step, validation once per epoch by default."""


class GenerateTrainer(BatchedTrainer):
    """Trains MODEL on TRAIN, validating on VALID, saving into FOLDER; the TOKENIZER and the
    CATEGORIES (empty for feature vectors) are saved in config.json. Call ``restore`` to
    continue a checkpoint, then ``train``."""

    task_name = "generate"

    def __init__(
        self,
        model: ConditionedLanguageModel,
        tokenizer: Tokenizer,
        categories: list[str],
        train: EncodedConditioned,
        valid: EncodedConditioned,
        settings: GenerateSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model, train, valid, settings, folder, info)
        self.tokenizer = tokenizer
        self.categories = list(categories)

    def compute_step(self) -> tuple[float, int]:
        inputs, targets, conditions, lengths = conditioned_batch(
            self.train_set, self.current_batch(), self.model.pad_id
        )
        loss = self.model.loss_and_backward(inputs, targets, conditions, lengths)
        return loss, int(lengths.sum())

    def validate(self) -> dict[str, float]:
        measures = measure_conditioned(self.model, self.valid_set)
        return {"loss": measures["loss"], "bits_per_char": measures["bits_per_char"]}

    def describe(self, measures: dict[str, float]) -> str:
        return f"loss {measures['loss']:.4f} ({measures['bits_per_char']:.4f} bits/char)"

    def config(self) -> dict[str, Any]:
        return {
            **self.base_config(),
            "tokenizer": self.tokenizer.to_dict(),
            "categories": self.categories,
        }
