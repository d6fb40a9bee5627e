"""Training a ``SequenceClassifier`` on length-bucketed batches, and resuming it exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s (see
``rnnkit.train.trainer``); this module supplies the classifier's part. One step trains on
one batch: the mean cross-entropy of its examples. An epoch's batches come from
``bucket_batches`` with a generator seeded by ``(seed, epoch)``, so the batches of any
epoch can be made again from two numbers, and a resumed run picks up at the very batch it
stopped before. Validation measures accuracy, macro-F1 and loss; the best model is the
one with the highest validation accuracy, and the learning rate is lowered when validation
accuracy (or, with ``plateau_on="loss"``, validation loss) stops improving.

Besides the files every run folder has, config.json records the class labels, and the
progress records the next batch of the current epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import to_dict
from rnnkit.data.classification import EncodedTexts
from rnnkit.data.length_buckets import bucket_batches, pad_batch
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.errors import UserError
from rnnkit.models import SequenceClassifier
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.trainer import Trainer, TrainingProgress, TrainingSettings

FORMAT = "rnnkit.sequence_classifier"
PLATEAU_MEASURES = ("accuracy", "loss")  # what --plateau-on may follow


@dataclass
class ClassifierSettings(TrainingSettings):
    """``TrainingSettings`` plus the batch size and the seed that orders every epoch.

    ``pretrain_epochs`` records how many epochs the encoder was first trained as a
    language model on the training texts (``rnnkit.train.encoder_pretraining``);
    ``adversarial`` is the epsilon of adversarial training (0: off; see
    ``SequenceClassifier.loss_and_backward``). ``plateau_on`` is the validation measure
    whose plateau lowers the learning rate: "accuracy" or "loss". Accuracy on a small
    validation set moves in coarse steps and stalls early, while the loss (above all the
    loss of averaged weights) keeps falling as long as the model still learns.
    """

    batch_size: int = 32
    eval_every: int = 100
    plateau_patience: int = 2
    seed: int = 0
    pretrain_epochs: int = 0
    adversarial: float = 0.0
    plateau_on: str = "accuracy"


@dataclass
class ClassifierProgress(TrainingProgress):
    batch: int = 0  # the next batch of the current epoch


class ClassifierTrainer(Trainer):
    """Trains MODEL on TRAIN, validating on VALID, saving into FOLDER.

    LABELS names the classes (for reports and config.json). Call ``restore`` to continue
    a checkpoint, then ``train``.
    """

    watched = "accuracy"
    higher_is_better = True

    def __init__(
        self,
        model: SequenceClassifier,
        tokenizer: Tokenizer,
        labels: Sequence[str],
        train: EncodedTexts,
        valid: EncodedTexts,
        settings: ClassifierSettings,
        folder: str | os.PathLike[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        if settings.plateau_on not in PLATEAU_MEASURES:
            raise UserError(
                f"plateau_on must be one of {', '.join(PLATEAU_MEASURES)}, "
                f"got {settings.plateau_on!r}"
            )
        super().__init__(model, settings, ClassifierProgress(), folder, info)
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.train_set = train
        self.valid_set = valid
        self._lengths = train.lengths
        self._batches: list[np.ndarray] = []
        self._batches_epoch: int | None = None

    def plateau_measure(self) -> tuple[str, bool]:
        if self.settings.plateau_on == "loss":
            return "loss", False
        return super().plateau_measure()

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The training batches of EPOCH (example indices), the same on every call."""
        rng = np.random.default_rng([self.settings.seed, epoch])
        return bucket_batches(self._lengths, self.settings.batch_size, rng)

    def compute_step(self) -> tuple[float, int]:
        progress = self.progress
        if self._batches_epoch != progress.epoch:
            self._batches = self.epoch_batches(progress.epoch)
            self._batches_epoch = progress.epoch
        batch = self._batches[progress.batch]
        ids, lengths = pad_batch([self.train_set.sequences[i] for i in batch], self.model.pad_id)
        targets = self.train_set.targets[batch]
        loss = self.model.loss_and_backward(ids, lengths, targets, self.settings.adversarial)
        return loss, int(lengths.sum())

    def advance(self) -> None:
        progress = self.progress
        progress.batch += 1
        if progress.batch == len(self._batches):
            progress.epoch += 1
            progress.batch = 0

    def validate(self) -> dict[str, float]:
        loss, report = evaluate_classifier(self.model, self.valid_set, self.labels)
        return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}

    def describe(self, measures: dict[str, float]) -> str:
        return (
            f"accuracy {measures['accuracy']:.2%}, macro-F1 {measures['macro_f1']:.4f}, "
            f"loss {measures['loss']:.4f}"
        )

    def config(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": to_dict(self.model.config()),
            "tokenizer": self.tokenizer.to_dict(),
            "labels": self.labels,
            **self.base_config(),
        }
