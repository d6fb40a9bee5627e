"""Training on epochs of batches: the part the classifier, tagger, seq2seq and forecast
trainers share.

An epoch is a list of batches (arrays of example indices) that ``epoch_batches`` makes
from a generator seeded by ``(seed, epoch)`` alone, by default ``bucket_batches`` over the
examples' lengths, so the batches of any epoch can be made again from two numbers and a
resumed run picks up at the very batch it stopped before: the progress records the next
batch of the current epoch. By default a run validates once per epoch (at most every
``MAX_DEFAULT_EVAL_EVERY`` steps) and lowers the learning rate after
``plateau_intervals`` validation intervals without improvement (``BatchedSettings.resolve``).

A subclass provides ``compute_step`` (the loss and gradients of ``current_batch()``),
``validate``, ``describe`` and ``config`` (see ``rnnkit.train.trainer``), and may override
``example_lengths`` (what ``bucket_batches`` sorts by), ``epoch_batches`` and
``count_batches`` (the batches of an epoch of so many examples) together.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rnnkit.config import INT64_MAX
from rnnkit.data.length_buckets import batches_per_epoch, bucket_batches
from rnnkit.train.settings import (
    TrainingSettings,
    batch_size_option,
    eval_every_option,
    patience_option,
)
from rnnkit.train.trainer import Trainer, TrainingProgress

MAX_DEFAULT_EVAL_EVERY = 1000  # steps; by default a run validates once per epoch, or this


def interval_patience(intervals: int) -> Any:
    """The ``plateau_patience`` field of settings whose default is INTERVALS validation
    intervals (``plateau_intervals``)."""
    return patience_option(
        None,
        "steps without improvement of validation before the learning rate is lowered "
        f"(default: {intervals} validation intervals)",
    )


@dataclass
class BatchedSettings(TrainingSettings):
    """``TrainingSettings`` plus the batch size, with ``eval_every`` and
    ``plateau_patience`` following the length of an epoch unless given."""

    plateau_intervals: ClassVar[int] = 2  # validation intervals of patience by default

    eval_every: int | None = eval_every_option(
        None,
        "validate and keep the best model every N steps (default: once per epoch, "
        f"at most every {MAX_DEFAULT_EVAL_EVERY})",
    )
    plateau_patience: int | None = interval_patience(plateau_intervals)
    batch_size: int = batch_size_option(32, "examples per step")

    def resolve(self, steps_per_epoch: int) -> None:
        """Validate once per epoch (at most every MAX_DEFAULT_EVAL_EVERY steps) and lower
        the learning rate after ``plateau_intervals`` validations without improvement,
        unless told."""
        if self.eval_every is None:
            self.eval_every = min(steps_per_epoch, MAX_DEFAULT_EVAL_EVERY)
        if self.plateau_patience is None:
            # past a 64-bit count it is never anyway; beyond it the saved setting is refused
            patience = self.plateau_intervals * self.eval_every
            self.plateau_patience = min(patience, INT64_MAX)


@dataclass
class BatchProgress(TrainingProgress):
    batch: int = 0  # the next batch of the current epoch


class BatchedTrainer(Trainer):
    """Trains MODEL on the examples TRAIN, validating on VALID, saving into FOLDER; see the
    module docstring. TRAIN and VALID are kept as ``train_set`` and ``valid_set``."""

    def __init__(
        self,
        model: Any,
        train: Any,
        valid: Any,
        settings: BatchedSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        settings.resolve(self.count_batches(len(train), settings.batch_size))
        super().__init__(model, settings, BatchProgress(), folder, info)
        self.train_set, self.valid_set = train, valid
        self._lengths = self.example_lengths(train)
        self._batches: list[np.ndarray] = []
        self._batches_epoch: int | None = None

    @staticmethod
    def count_batches(examples: int, batch_size: int) -> int:
        """The batches of an epoch of EXAMPLES (what ``epoch_batches`` makes)."""
        return batches_per_epoch(examples, batch_size)

    def example_lengths(self, train: Any) -> Sequence[int] | np.ndarray:
        """The length of each training example, for ``bucket_batches``."""
        return train.lengths

    def steps_per_epoch(self) -> int:
        return self.count_batches(len(self.train_set), self.settings.batch_size)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The training batches of EPOCH (example indices), the same on every call."""
        rng = np.random.default_rng([self.settings.seed, epoch])
        return bucket_batches(self._lengths, self.settings.batch_size, rng)

    def current_batch(self) -> np.ndarray:
        """The example indices of the batch the next step trains on."""
        progress = self.progress
        if self._batches_epoch != progress.epoch:
            self._batches = self.epoch_batches(progress.epoch)
            self._batches_epoch = progress.epoch
        return self._batches[progress.batch]

    def advance(self) -> None:
        progress = self.progress
        progress.batch += 1
        if progress.batch == len(self._batches):
            progress.epoch += 1
            progress.batch = 0
