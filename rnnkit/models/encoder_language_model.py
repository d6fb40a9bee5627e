"""A classifier's embedding and encoder trained as a language model, before classification.

Pretraining the recurrent encoder to predict words, on the very texts it will classify,
gives it a start that knows how words follow each other (Dai & Le 2015, "Semi-supervised
sequence learning"); with few labelled examples and random embeddings that is a better
start than random weights. The model shares the ``SequenceClassifier``'s embedding,
dropouts and encoder (the same arrays, so training this trains those) and adds one
softmax layer per direction over the vocabulary::

    ids (B, T), lengths (B,)
      -> the classifier's Embedding, word dropout, embedding dropout, encoder, dropout
      -> h^f_t (forward direction, read tokens 0..t)       -> next_token     -> x_{t+1}
         h^b_t (reverse direction, read tokens t..n-1)     -> previous_token -> x_{t-1}

    loss = -(1 / N) [ sum_{t=0}^{n-2} log p(x_{t+1} | h^f_t)
                    + sum_{t=1}^{n-1} log p(x_{t-1} | h^b_t) ]

summed over the rows of the batch (each with its own length ``n``); ``N`` counts the terms.
Each direction only predicts a token it has not read. That holds for a one-layer encoder
only: in a stacked bidirectional encoder the second layer's forward direction reads the
first layer's reverse states, which have read the token to predict, so such an encoder
is refused.

The softmax layers are dropped after pretraining; only the shared arrays go on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.models.sequence_classifier import SequenceClassifier
from rnnkit.nn import Layer, Linear, softmax_cross_entropy


class EncoderLanguageModel(Layer):
    """CLASSIFIER's embedding and encoder with softmax layers that predict the neighbours."""

    def __init__(self, classifier: SequenceClassifier) -> None:
        super().__init__()
        if classifier.bidirectional and classifier.num_layers > 1:
            raise ValueError(
                "a stacked bidirectional encoder cannot be pretrained as a language model: "
                "its upper layers see the token each direction predicts"
            )
        self.classifier = classifier
        # The classifier's generator draws the new layers and the dropout masks, so its
        # seed reproduces the whole run.
        self.rng = rng = classifier.rng
        hidden_size, vocab_size = classifier.hidden_size, classifier.vocab_size
        dtype = classifier.params["classifier.weight"].dtype
        # Outputs are vocabulary ids only: the padding row is never a target.
        # The classifier's embedding and encoder, under their own names: registering the
        # whole classifier would also train its classification layer.
        for name in ("embedding", "encoder"):
            self.add_layer(name, getattr(classifier, name))
        self.heads = {"next_token": Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)}
        if classifier.bidirectional:
            self.heads["previous_token"] = Linear(hidden_size, vocab_size, dtype=dtype, rng=rng)
        for name, head in self.heads.items():
            self.add_layer(name, head)
        self._cache: tuple[Any, ...] | None = None

    def train(self, mode: bool = True) -> EncoderLanguageModel:
        super().train(mode)
        self.classifier.train(mode)
        return self

    def forward(self, ids: Any, lengths: Any = None) -> tuple[float, int]:
        """``(summed cross-entropy, number of predicted tokens)`` for ids ``(B, T)``.

        The summed loss makes means over several batches exact; ``loss_and_backward``
        trains on the mean of one batch.
        """
        model = self.classifier
        ids = np.asarray(ids)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"ids: expected a non-empty 2-D array (batch, steps), got {ids.shape}")
        batch, num_steps = ids.shape
        lengths = np.full(batch, num_steps) if lengths is None else np.asarray(lengths)
        tokens = ids.T  # time-major, as the encoder runs
        embedded = model.word_dropout.forward(model.embedding.forward(tokens))
        embedded = model.embedding_dropout.forward(embedded)
        output, _ = model.encoder.forward(embedded, None, lengths)
        output = model.dropout.forward(output)
        hidden_size = model.hidden_size
        steps = np.arange(num_steps)[:, None]
        # (step, row) of each state that has a neighbour to predict, and that neighbour's
        # step: the forward direction at t < n - 1 predicts t + 1, the reverse at 1 <= t < n
        # predicts t - 1.
        predictions = {"next_token": (steps < lengths[None, :] - 1, 1, slice(0, hidden_size))}
        if "previous_token" in self.heads:
            where = (steps >= 1) & (steps < lengths[None, :])
            predictions["previous_token"] = (where, -1, slice(hidden_size, 2 * hidden_size))
        total, count, caches = 0.0, 0, []
        for name, (where, shift, units) in predictions.items():
            step, row = np.nonzero(where)
            logits = self.heads[name].forward(output[step, row, units])
            targets = tokens[step + shift, row]
            loss, grad_logits = softmax_cross_entropy(logits, targets, reduction="sum")
            total += loss
            count += len(step)
            caches.append((name, step, row, units, grad_logits))
        self._cache = (output.shape, output.dtype, caches) if self.training else None
        return total, count

    def backward(self, scale: float = 1.0) -> None:
        """Add SCALE times the gradients of the summed loss of the last forward into ``grads``."""
        if self._cache is None:
            raise RuntimeError(
                "backward: no forward pass to differentiate; call forward in training mode "
                "(model.train()) first, and only once per backward"
            )
        output_shape, dtype, caches = self._cache
        self._cache = None
        model = self.classifier
        grad_output = np.zeros(output_shape, dtype=dtype)
        for name, step, row, units, grad_logits in caches:
            grad_logits *= dtype.type(scale)
            # Each (step, row) appears once per direction, so assignment is the sum.
            grad_output[step, row, units] = self.heads[name].backward(grad_logits)
        grad_output = model.dropout.backward(grad_output)
        grad_embedded, _ = model.encoder.backward(grad_output, None)
        grad_embedded = model.embedding_dropout.backward(grad_embedded)
        model.embedding.backward(model.word_dropout.backward(grad_embedded))

    def loss_and_backward(self, ids: Any, lengths: Any = None) -> float:
        """Mean cross-entropy per predicted token of the batch; its gradients go into ``grads``."""
        total, count = self.forward(ids, lengths)
        scale = 1.0 / count if count else 0.0
        self.backward(scale)
        return total * scale
