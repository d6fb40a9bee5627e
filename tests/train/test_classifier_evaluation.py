"""Evaluation batch by batch gives the figures of the whole set at once."""

import numpy as np
import pytest

from rnnkit.data.classification import EncodedTexts
from rnnkit.models import SequenceClassifier
from rnnkit.nn import softmax_cross_entropy
from rnnkit.train import classifier_evaluation
from rnnkit.train.classifier_evaluation import classify, evaluate_classifier


def test_batched_loss_and_predictions_equal_the_whole_set(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    sequences = [rng.integers(0, 9, size=rng.integers(1, 12)) for _ in range(37)]
    data = EncodedTexts(sequences, rng.integers(0, 5, size=37))
    model = SequenceClassifier(9, 5, embedding_size=4, hidden_size=6, dtype=np.float64, rng=1)
    logits = classify(model, sequences)
    whole_loss, _ = softmax_cross_entropy(logits, data.targets)
    monkeypatch.setattr(classifier_evaluation, "EVAL_BATCH_SIZE", 5)  # eight batches
    loss, report = evaluate_classifier(model, data, [str(c) for c in range(5)])
    assert loss == pytest.approx(whole_loss, rel=1e-12)
    assert report["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == data.targets))
