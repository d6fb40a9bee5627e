"""Training a ``SequenceClassifier`` on length-bucketed batches, and resuming it exactly.

The loop, checkpoints, best model and exact resume are ``Trainer``'s (see
``rnnkit.train.trainer``); this module supplies the classifier's part. One step trains on
one batch: the mean cross-entropy of its examples. An epoch's batches come from
``bucket_batches`` with a generator seeded by ``(seed, epoch)``, so the batches of any
epoch can be made again from two numbers, and a resumed run picks up at the very batch it
stopped before. Validation measures accuracy, macro-F1 and loss; the best model is the
one with the highest validation accuracy, and the learning rate is lowered when validation
accuracy (or, with ``plateau_on="loss"``, validation loss) stops improving.

With ``class_weights="balanced"``, each training example's loss is weighed by
``N / (K n_c)`` (its class ``c`` has ``n_c`` of the ``N`` training examples, ``K``
classes; ``balanced_class_weights``), so that every class weighs as much in the loss as
any other however few its examples; the best model and the plateau then follow the
validation balanced accuracy (the mean over classes of each class's recall), the measure
such weighting aims at, instead of the accuracy, which the large classes dominate.

Besides the files every run folder has, config.json records the class labels, and the
progress records the next batch of the current epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import option
from rnnkit.data.classification import EncodedTexts
from rnnkit.data.length_buckets import pad_batch
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models import SequenceClassifier
from rnnkit.train.batched_trainer import BatchedSettings, BatchedTrainer
from rnnkit.train.classifier_evaluation import evaluate_classifier

PLATEAU_MEASURES = ("accuracy", "loss")  # what plateau_on may follow
CLASS_WEIGHTS = ("none", "balanced")  # what class_weights may be


@dataclass
class ClassifierSettings(BatchedSettings):
    """``BatchedSettings`` plus pretraining, adversarial training and the plateau measure.

    ``pretrain_epochs`` records how many epochs the encoder was first trained as a
    language model on the training texts (``rnnkit.train.encoder_pretraining``);
    ``adversarial`` is the epsilon of adversarial training (0: off; see
    ``SequenceClassifier.loss_and_backward``). ``class_weights`` weighs the loss per
    class (see the module docstring). ``plateau_on`` is the validation measure
    whose plateau lowers the learning rate: "accuracy" or "loss". Accuracy on a small
    validation set moves in coarse steps and stalls early, while the loss (above all the
    loss of averaged weights) keeps falling as long as the model still learns.
    """

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
    class_weights: str = option(
        "none",
        "none: every training example counts the same; balanced: each example's loss is "
        "weighed by N / (K n_c) (n_c of the N examples are of its class, K classes), so a "
        "rare class counts as much as a frequent one, and the best model is the one with "
        "the highest validation balanced accuracy (mean recall per class)",
        choices=CLASS_WEIGHTS,
    )
    plateau_on: str = option(
        "accuracy",
        "the validation measure whose plateau lowers the learning rate (loss "
        "moves more smoothly on a small validation set); the best model is still the one "
        "with the highest validation accuracy",
        choices=PLATEAU_MEASURES,
    )


class ClassifierTrainer(BatchedTrainer):
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
        super().__init__(model, train, valid, settings, folder, info)
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.class_weights: np.ndarray | None = None
        if settings.class_weights == "balanced":
            self.class_weights = balanced_class_weights(train.targets, len(self.labels))
            self.watched = "balanced_accuracy"

    def plateau_measure(self) -> tuple[str, bool]:
        if self.settings.plateau_on == "loss":
            return "loss", False
        return super().plateau_measure()

    def compute_step(self) -> tuple[float, int]:
        batch = self.current_batch()
        ids, lengths = pad_batch([self.train_set.sequences[i] for i in batch], self.model.pad_id)
        targets = self.train_set.targets[batch]
        loss = self.model.loss_and_backward(
            ids, lengths, targets, self.settings.adversarial, self.class_weights
        )
        return loss, int(lengths.sum())

    def validate(self) -> dict[str, float] | None:
        if len(self.valid_set) == 0:  # val_fraction 0: trained on every example
            return None
        loss, report = evaluate_classifier(self.model, self.valid_set, self.labels)
        return {
            "loss": loss,
            "accuracy": report["accuracy"],
            "balanced_accuracy": report["balanced_accuracy"],
            "macro_f1": report["macro_f1"],
        }

    def describe(self, measures: dict[str, float]) -> str:
        return (
            f"accuracy {measures['accuracy']:.2%}, balanced accuracy "
            f"{measures['balanced_accuracy']:.2%}, macro-F1 {measures['macro_f1']:.4f}, "
            f"loss {measures['loss']:.4f}"
        )

    def config(self) -> dict[str, Any]:
        return {
            **self.base_config(),
            "tokenizer": self.tokenizer.to_dict(),
            "labels": self.labels,
        }


def balanced_class_weights(targets: np.ndarray, num_classes: int) -> np.ndarray:
    """One weight per class, ``N / (K n_c)``: the class ``c`` has ``n_c`` of the ``N``
    TARGETS and there are ``K = num_classes`` classes, so the weights of each class's
    examples add up to ``N / K`` for every class. A class without training examples gets
    weight 0 (it is never a training target)."""
    counts = np.bincount(np.asarray(targets), minlength=num_classes).astype(np.float64)
    weights = np.zeros(num_classes)
    np.divide(counts.sum() / num_classes, counts, out=weights, where=counts > 0)
    return weights
