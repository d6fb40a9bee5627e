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
    logits = classify(model, data.sequences).astype(np.float64)
    loss, _ = softmax_cross_entropy(logits, data.targets)
    return loss, classification_report(data.targets, logits.argmax(axis=1), labels)
