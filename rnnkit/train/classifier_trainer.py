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

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.classification import EncodedTexts
from rnnkit.data.length_buckets import batches_per_epoch, bucket_batches, pad_batch
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import SequenceClassifier
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.settings import TrainingSettings
from rnnkit.train.trainer import Trainer, TrainingProgress

PLATEAU_MEASURES = ("accuracy", "loss")  # what plateau_on may follow
MAX_DEFAULT_EVAL_EVERY = 1000  # steps; by default a run validates once per epoch, or this


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

    lr: float | None = option(
        None,
        "learning rate (default 0.002 with adam, 0.1 with sgd)",
        minimum=1e-12,
        on_resume=CHANGEABLE,
    )
    eval_every: int | None = option(
        None,
        "validate and keep the best model every N steps (default: once per epoch, "
        f"at most every {MAX_DEFAULT_EVAL_EVERY})",
        minimum=1,
        on_resume=CHANGEABLE,
        metavar="N",
    )
    plateau_patience: int | None = option(
        None,
        "steps without a better validation before the learning rate is halved "
        "(default: two validation intervals)",
        minimum=0,
        on_resume=CHANGEABLE,
        metavar="STEPS",
    )
    batch_size: int = option(32, "examples per step", minimum=1, maximum=1 << 20)
    pretrain_epochs: int = option(
        0,
        "first train the embedding and encoder for N epochs as a language model on the "
        "training texts (next token, and previous token when bidirectional), then classify",
        minimum=0,
        metavar="N",
    )
    adversarial: float = option(
        0.0,
        "adversarial training: each step also trains on each text's embedded tokens "
        "moved by EPSILON times their norm in the direction that raises its loss most, "
        "e.g. 0.03",
        minimum=0,
        metavar="EPSILON",
    )
    plateau_on: str = option(
        "accuracy",
        "the validation measure whose plateau halves the learning rate (loss "
        "moves more smoothly on a small validation set); the best model is still the one "
        "with the highest validation accuracy",
        choices=PLATEAU_MEASURES,
    )

    def __post_init__(self) -> None:
        if self.lr is None:
            self.lr = DEFAULT_LR.get(self.optimizer)

    def resolve(self, steps_per_epoch: int) -> None:
        """Fill in the defaults that depend on the data: validate once per epoch (at most
        every MAX_DEFAULT_EVAL_EVERY steps), patience of two validation intervals."""
        if self.eval_every is None:
            self.eval_every = min(steps_per_epoch, MAX_DEFAULT_EVAL_EVERY)
        if self.plateau_patience is None:
            self.plateau_patience = 2 * self.eval_every


DEFAULT_LR = {"adam": 2e-3, "sgd": 0.1}


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
    task_name = "classify"

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
        settings.resolve(batches_per_epoch(len(train), settings.batch_size))
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

    def steps_per_epoch(self) -> int:
        return batches_per_epoch(len(self.train_set), self.settings.batch_size)

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
            **self.base_config(),
            "tokenizer": self.tokenizer.to_dict(),
            "labels": self.labels,
        }
