"""pretrain_encoder: it learns the texts, a seed reproduces it, it stops on request, it
refuses a diverged loss, and it leaves the classifier's own layer alone."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import SequenceClassifier
from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.train import StopRequest, TrainingDivergedError
from rnnkit.train.encoder_pretraining import language_model_loss, pretrain_encoder

VOCAB = 6


def cycling_texts(count: int, seed: int) -> list[np.ndarray]:
    """Texts that count 0, 1, ..., 5, 0, 1, ... from a random start: easy to predict."""
    rng = np.random.default_rng(seed)
    return [(rng.integers(VOCAB) + np.arange(rng.integers(2, 9))) % VOCAB for _ in range(count)]


def make_classifier(seed: int = 0) -> SequenceClassifier:
    return SequenceClassifier(
        VOCAB, 2, embedding_size=8, hidden_size=16, bidirectional=True, dtype=np.float64, rng=seed
    )


def pretrain(classifier: SequenceClassifier, epochs: int = 4, **options: object) -> list:
    losses: list = []
    settings = dict(epochs=epochs, batch_size=8, lr=0.02, clip=5.0, seed=0)
    settings.update(options)
    finished = pretrain_encoder(
        classifier,
        cycling_texts(96, seed=0),
        cycling_texts(32, seed=1),
        on_epoch=lambda epoch, train, valid: losses.append((epoch, train, valid)),
        **settings,
    )
    assert finished
    return losses


def test_the_encoder_learns_to_predict_both_neighbours() -> None:
    classifier = make_classifier()
    valid = cycling_texts(32, seed=1)
    before = language_model_loss(EncoderLanguageModel(make_classifier()), valid)
    losses = pretrain(classifier, epochs=6)
    assert [epoch for epoch, _, _ in losses] == [1, 2, 3, 4, 5, 6]
    assert before == pytest.approx(np.log(VOCAB), rel=0.1)  # a fresh model guesses
    assert losses[-1][2] < 0.1 * before  # every neighbour follows from the token


def test_a_seed_reproduces_the_weights_and_the_classifier_layer_is_left_alone() -> None:
    first, second = make_classifier(), make_classifier()
    classifier_layer = first.params["classifier.weight"].copy()
    pretrain(first)
    pretrain(second)
    for name, value in first.params.items():
        np.testing.assert_array_equal(value, second.params[name], err_msg=name)
    np.testing.assert_array_equal(first.params["classifier.weight"], classifier_layer)
    assert not np.array_equal(first.params["encoder.weight_hh_l0"], make_classifier().params[
        "encoder.weight_hh_l0"
    ])  # fmt: skip
    assert all(np.all(grad == 0) for grad in first.grads.values())


def test_a_stop_request_ends_it_before_the_next_step() -> None:
    classifier = make_classifier()
    start = {name: value.copy() for name, value in classifier.params.items()}
    stop = StopRequest()
    steps = []

    def on_step(step: int, loss: float, tokens: int) -> None:
        assert 8 * 2 <= tokens <= 8 * 8  # a batch of 8 texts of 2 to 8 tokens
        steps.append(step)
        if step == 3:
            stop.request()

    texts = cycling_texts(96, seed=0)
    assert not pretrain_encoder(classifier, texts, texts, 2, 8, 0.02, 5.0, 0, stop, on_step)
    assert steps == [1, 2, 3]
    assert not np.array_equal(classifier.params["embedding.weight"], start["embedding.weight"])


def test_a_loss_that_is_not_finite_stops_it_with_a_clear_error() -> None:
    classifier = make_classifier()
    classifier.params["encoder.weight_ih_l0"][0, 0] = np.nan
    with pytest.raises(TrainingDivergedError, match="pretraining diverged at step 1"):
        pretrain(classifier)
