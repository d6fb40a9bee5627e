"""Running a trained ``SequenceClassifier`` over many texts, and measuring it.

Texts are batched sorted by length (see ``rnnkit.data.length_buckets``), so evaluation
wastes almost nothing on padding; results come back in the order the texts were given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.data.classification import EncodedTexts
from rnnkit.data.length_buckets import pad_batch, sorted_batches
from rnnkit.models import SequenceClassifier
from rnnkit.nn import softmax_cross_entropy
from rnnkit.train.classification_metrics import classification_report

EVAL_BATCH_SIZE = 256


def classify(
    model: SequenceClassifier, sequences: Sequence[np.ndarray], batch_size: int = EVAL_BATCH_SIZE
) -> np.ndarray:
    """Logits ``(N, num_classes)`` of every sequence, in evaluation mode (no dropout).

    The model's mode is restored afterwards.
    """
    lengths = np.array([len(s) for s in sequences])
    logits = np.empty(
        (len(sequences), model.num_classes), dtype=model.params["classifier.weight"].dtype
    )
    was_training = model.training
    model.eval()
    try:
        for batch in sorted_batches(lengths, batch_size):
            ids, batch_lengths = pad_batch([sequences[i] for i in batch], model.pad_id)
            logits[batch] = model.forward(ids, batch_lengths)
    finally:
        model.train(was_training)
    return logits


def evaluate_classifier(
    model: SequenceClassifier, data: EncodedTexts, labels: Sequence[str]
) -> tuple[float, dict[str, Any]]:
    """``(mean cross-entropy, classification report)`` of MODEL on DATA.

    The report is ``classification_report``'s: accuracy, macro-F1, per-class figures and
    the confusion matrix, under the class names LABELS.
    """
    # Batch by batch, so that no (examples x classes) array is ever held: with many classes
    # and many examples that array alone would not fit in memory.
    lengths = np.array([len(s) for s in data.sequences])
    predictions = np.empty(len(lengths), dtype=np.int64)
    total = 0.0
    was_training = model.training
    model.eval()
    try:
        for batch in sorted_batches(lengths, EVAL_BATCH_SIZE):
            ids, batch_lengths = pad_batch([data.sequences[i] for i in batch], model.pad_id)
            logits = model.forward(ids, batch_lengths).astype(np.float64)
            loss, _ = softmax_cross_entropy(logits, data.targets[batch])
            total += loss * len(batch)
            predictions[batch] = logits.argmax(axis=1)
    finally:
        model.train(was_training)
    mean_loss = total / max(len(lengths), 1)
    return mean_loss, classification_report(data.targets, predictions, labels)
