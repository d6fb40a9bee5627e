"""Pretraining a classifier's encoder as a language model on its training texts.

``pretrain_encoder`` runs whole epochs of ``EncoderLanguageModel`` steps over the texts
(Adam, gradient clipping, the length-bucketed batches of classification training, the
labels unused) and leaves the trained embedding and encoder in the classifier; the
softmax layers it trained them with are dropped. The classification run that follows
starts from there with a fresh optimizer.

This phase keeps no checkpoint: it runs before the run folder is first written, so a
Ctrl-C here leaves nothing behind and the command is simply run again. Its batches come
from a generator seeded by ``(seed, PRETRAINING_STREAM, epoch)``, apart from the
classification epochs' ``(seed, epoch)``, and its dropout masks from the model's
generator, so a seed still reproduces the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from rnnkit.data.length_buckets import bucket_batches, pad_batch, sorted_batches
from rnnkit.models import SequenceClassifier
from rnnkit.models.encoder_language_model import EncoderLanguageModel
from rnnkit.optim import clip_grad_norm
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.optimizers import make_optimizer
from rnnkit.train.trainer import TrainingDivergedError

PRETRAINING_STREAM = 1  # tells this phase's batch order apart from classification's
EVAL_BATCH_SIZE = 256


def language_model_loss(
    model: EncoderLanguageModel, sequences: Sequence[np.ndarray], batch_size: int = EVAL_BATCH_SIZE
) -> float:
    """Mean cross-entropy per predicted token over SEQUENCES, in evaluation mode."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        lengths = np.array([len(s) for s in sequences])
        for batch in sorted_batches(lengths, batch_size):
            ids, batch_lengths = pad_batch([sequences[i] for i in batch], model.classifier.pad_id)
            loss, predicted = model.forward(ids, batch_lengths)
            total, count = total + loss, count + predicted
    finally:
        model.train(was_training)
    return total / count if count else math.nan


def pretrain_encoder(
    classifier: SequenceClassifier,
    train: Sequence[np.ndarray],
    valid: Sequence[np.ndarray],
    epochs: int,
    batch_size: int,
    lr: float,
    clip: float,
    seed: int,
    stop: StopRequest | None = None,
    on_step: Callable[[int, float, int], None] | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
) -> bool:
    """Train CLASSIFIER's embedding and encoder as a language model for EPOCHS epochs.

    TRAIN and VALID are token-id sequences. After each step
    ``on_step(step, loss, tokens)`` is called (TOKENS: the tokens of its batch), after
    each epoch ``on_epoch(epoch, training loss, validation loss)`` (losses in nats per
    predicted token; the training figure is the epoch's running mean, with dropout).
    Returns False if STOP was requested before the last step, True otherwise.
    Raises ``TrainingDivergedError`` if the loss stops being finite.
    """
    model = EncoderLanguageModel(classifier)
    model.train()
    optimizer = make_optimizer("adam", model.params, model.grads, lr)
    lengths = np.array([len(s) for s in train])
    step = 0
    for epoch in range(epochs):
        rng = np.random.default_rng([seed, PRETRAINING_STREAM, epoch])
        total, count = 0.0, 0
        for batch in bucket_batches(lengths, batch_size, rng):
            if stop is not None and stop.requested:
                return False
            model.zero_grad()
            ids, batch_lengths = pad_batch([train[i] for i in batch], classifier.pad_id)
            summed, predicted = model.forward(ids, batch_lengths)
            if not math.isfinite(summed):
                raise TrainingDivergedError(
                    f"pretraining diverged at step {step + 1}: the loss is {summed}; "
                    "lower lr or clip"
                )
            model.backward(1.0 / predicted if predicted else 0.0)
            if clip:
                clip_grad_norm(model.grads, clip)
            optimizer.step()
            step += 1
            total, count = total + summed, count + predicted
            if on_step is not None:
                tokens = int(batch_lengths.sum())
                on_step(step, summed / predicted if predicted else 0.0, tokens)
        if on_epoch is not None:
            train_loss = total / count if count else math.nan
            on_epoch(epoch + 1, train_loss, language_model_loss(model, valid))
    classifier.zero_grad()
    return True
