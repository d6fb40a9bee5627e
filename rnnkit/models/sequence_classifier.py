"""A many-to-one model: read a whole sequence of token ids, answer with one class.

::

    ids (B, T), lengths (B,)
      -> Embedding            (T, B, E)     row ``pad_id`` is the padding, always zero
      -> Dropout              (T, B, E)     ``word_dropout``: whole token vectors (default 0)
      -> Dropout              (T, B, E)     ``embedding_dropout``: single entries (default 0)
      -> RNN / LSTM / GRU     (T, B, D*H)   stacked, D = 2 if bidirectional; packed lengths
      -> pooling              (B, D*H)      "last", "mean" or "max" (below)
      -> Dropout
      -> Linear               (B, C)        logits; softmax cross-entropy is the loss

Batches are padded to their longest row and carry each row's length. The encoder runs
with packed-sequence semantics and the three poolings read only a row's valid steps, so
padding never changes a row's logits or its gradients:

- ``last``: the final state of each direction over the row's valid part, i.e. the top
  layer's ``h_n`` (forward direction: the state after the last real token; reverse
  direction: the state after reading back to the first token), directions concatenated.
- ``mean``: the average of the top layer's outputs over the valid steps.
- ``max``: the element-wise maximum over the valid steps; its gradient goes to the step
  that held the maximum.
- ``mean-max``: both, concatenated (``(B, 2*D*H)``), as in ULMFiT's concat pooling.

Adversarial training (``loss_and_backward(..., adversarial=epsilon)``, Miyato et al. 2017)
also trains on each text's embedded tokens moved by ``epsilon`` times their norm, in the
direction that raises the text's loss most.

The embedding starts uniform in (-0.1, 0.1), as the language model's does, not with
``torch.nn.Embedding``'s N(0, 1): with Adam's steps of about ``lr`` per entry, vectors of
norm ~sqrt(E) hardly move, and on SST-2 the small start is worth about 2 points of test
accuracy. Every other parameter keeps PyTorch's initialisation.

Parameters are registered under PyTorch's names with the sub-module as prefix
(``embedding.weight``, ``encoder.weight_ih_l0``, ``classifier.bias``), so the state dict
loads into an ``nn.Module`` with attributes ``embedding``, ``encoder`` and ``classifier``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import derived, option
from rnnkit.models.configured import Configured
from rnnkit.nn import (
    LSTM,
    Dropout,
    Embedding,
    Layer,
    Linear,
    softmax,
    softmax_cross_entropy,
)
from rnnkit.nn.layer import make_rng
from rnnkit.nn.recurrent import RECURRENT_LAYERS

ENCODERS = RECURRENT_LAYERS  # by the names the settings use
POOLINGS = ("last", "mean", "max", "mean-max")
EMBEDDING_INIT_RANGE = 0.1


@dataclass
class SequenceClassifierConfig:
    """The architecture of a ``SequenceClassifier``: its constructor's arguments, with defaults."""

    vocab_size: int = derived(0, "tokens in the vocabulary, set from the data")
    num_classes: int = derived(2, "classes, set from the data", minimum=2)
    embedding_size: int = option(64, "size of the token vectors", minimum=1, maximum=1 << 16)
    hidden_size: int = option(
        128, "units per recurrent layer and direction", minimum=1, maximum=1 << 16
    )
    num_layers: int = option(1, "stacked recurrent layers", minimum=1, maximum=64)
    cell: str = option("lstm", "the recurrent layer", choices=tuple(ENCODERS))
    bidirectional: bool = option(True, "read each text in both directions")
    pooling: str = option(
        "max",
        "how the encoder's outputs become one vector: the final state, the mean, "
        "the maximum over the text, or mean and max side by side",
        choices=POOLINGS,
    )
    dropout: float = option(
        0.5, "dropout between layers and before the classifier", minimum=0, below=1
    )
    embedding_dropout: float = option(
        0.0, "dropout of single entries of the embedded tokens", minimum=0, below=1
    )
    word_dropout: float = option(0.0, "dropout of whole tokens", minimum=0, below=1)


DEFAULT = SequenceClassifierConfig()


class SequenceClassifier(Configured, Layer):
    """Embedding -> recurrent encoder -> pooling -> dropout -> linear; see the module doc.

    Token ids run from 0 to ``vocab_size - 1``; the embedding has one more row,
    ``pad_id = vocab_size``, which padded positions use.
    """

    config_class = SequenceClassifierConfig
    config_attributes = {
        "dropout": "dropout_p",
        "embedding_dropout": "embedding_dropout_p",
        "word_dropout": "word_dropout_p",
    }

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_size: int = DEFAULT.embedding_size,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        bidirectional: bool = DEFAULT.bidirectional,
        pooling: str = DEFAULT.pooling,
        dropout: float = DEFAULT.dropout,
        embedding_dropout: float = DEFAULT.embedding_dropout,
        word_dropout: float = DEFAULT.word_dropout,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell: expected one of {', '.join(ENCODERS)}, got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling: expected one of {', '.join(POOLINGS)}, got {pooling!r}")
        if num_classes < 2:
            raise ValueError(f"num_classes: expected at least 2, got {num_classes}")
        self.vocab_size = int(vocab_size)
        self.num_classes = int(num_classes)
        self.embedding_size = int(embedding_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.cell = cell
        self.bidirectional = bool(bidirectional)
        self.pooling = pooling
        self.dropout_p = float(dropout)
        self.embedding_dropout_p = float(embedding_dropout)
        self.word_dropout_p = float(word_dropout)
        # One generator for every random draw (initialisation, then dropout masks), so a
        # run is reproduced by one seed and resumed by restoring one state.
        self.rng = make_rng(rng)
        self.pad_id = self.vocab_size

        self.add_layer(
            "embedding",
            Embedding(
                self.vocab_size + 1,
                embedding_size,
                padding_idx=self.pad_id,
                dtype=dtype,
                rng=self.rng,
            ),
        )
        weight = self.embedding.params["weight"]
        weight[...] = self.rng.uniform(-EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE, weight.shape)
        weight[self.pad_id] = 0.0
        # Dropping embedding entries is the strongest regulariser for small text data sets
        # (TREC: about +1.5 points of test accuracy at 0.3).
        self.add_layer("embedding_dropout", Dropout(embedding_dropout, rng=self.rng))
        # Word dropout (Iyyer et al. 2015): the encoder must classify from the words left,
        # so no single word can decide alone. One mask entry per token, the vector whole.
        self.add_layer("word_dropout", Dropout(word_dropout, rng=self.rng, shared_axes=(-1,)))
        self.add_layer(
            "encoder",
            ENCODERS[cell](
                embedding_size,
                hidden_size,
                num_layers,
                dropout=dropout if num_layers > 1 else 0.0,
                bidirectional=bidirectional,
                dtype=dtype,
                rng=self.rng,
            ),
        )
        self.add_layer("dropout", Dropout(dropout, rng=self.rng))
        features = self.encoder.num_directions * hidden_size * (2 if pooling == "mean-max" else 1)
        self.add_layer("classifier", Linear(features, num_classes, dtype=dtype, rng=self.rng))
        self._cache: tuple[Any, ...] | None = None

    # -- forward / backward ------------------------------------------------------------------

    def forward(self, ids: Any, lengths: Any = None) -> np.ndarray:
        """Logits ``(B, num_classes)`` for padded ids ``(B, T)`` and row lengths ``(B,)``.

        ``lengths=None`` means every row fills all ``T`` steps.
        """
        ids, lengths = self._checked(ids, lengths)
        return self._classify(self._embed(ids), lengths)

    def backward(self, grad_logits: np.ndarray) -> None:
        """Add the gradients of every parameter, given ``dL/dlogits`` ``(B, num_classes)``."""
        self._embed_backward(self._classify_backward(grad_logits))

    def loss_and_backward(
        self,
        ids: Any,
        lengths: Any,
        targets: Any,
        adversarial: float = 0.0,
        class_weights: np.ndarray | None = None,
    ) -> float:
        """Mean cross-entropy of the batch; its gradients are added into ``grads``.

        With ``class_weights`` (one non-negative number per class), each text's loss is
        weighed by its class's weight and the mean is over the summed weights, as
        ``torch.nn.functional.cross_entropy(weight=...)`` (see ``softmax_cross_entropy``).

        With ``adversarial = epsilon > 0`` (Miyato et al. 2017), the gradients are those of
        ``L(e) + L(e + r)``, where ``e`` are the embedded tokens (after the dropouts) and

            r = epsilon * ||e|| * g / ||g||,   g = dL/de,   per text; ||.|| over steps and units

        is held constant: of the moves of length ``epsilon * ||e||``, the one that raises the
        text's loss the most, to first order. Miyato et al. bound ``||r||`` by a constant and
        normalise the embeddings so that it means the same all through training; bounding it
        relative to the text's own norm does that without the normalisation (the embedding
        starts small and grows as it trains). ``g`` and ``e`` are zero at padded steps, so
        ``r`` is too. Both losses see the same dropout masks on the embedding; the returned
        loss is the clean ``L(e)``.
        """
        ids, lengths = self._checked(ids, lengths)
        targets = np.asarray(targets)
        embedded = self._embed(ids)
        loss, grad_logits = softmax_cross_entropy(
            self._classify(embedded, lengths), targets, weight=class_weights
        )
        grad_embedded = self._classify_backward(grad_logits)
        if adversarial > 0.0:
            perturbation = adversarial_perturbation(grad_embedded, embedded, adversarial)
            _, grad_logits = softmax_cross_entropy(
                self._classify(embedded + perturbation, lengths), targets, weight=class_weights
            )
            grad_embedded += self._classify_backward(grad_logits)
        self._embed_backward(grad_embedded)
        return loss

    def predict_proba(self, ids: Any, lengths: Any = None) -> np.ndarray:
        """Class probabilities ``(B, num_classes)``, in evaluation mode (no dropout)."""
        was_training = self.training
        self.eval()
        try:
            logits = self.forward(ids, lengths)
        finally:
            self.train(was_training)
        return softmax(logits, axis=1)

    # -- the two halves of the model: embedding, and the rest ------------------------------

    def _checked(self, ids: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"ids: expected a non-empty 2-D array (batch, steps), got {ids.shape}")
        batch, num_steps = ids.shape
        lengths = np.full(batch, num_steps) if lengths is None else np.asarray(lengths)
        return ids, lengths

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        """Embedded tokens ``(T, B, E)``, time-major as the encoder runs, after the dropouts."""
        embedded = self.word_dropout.forward(self.embedding.forward(ids.T))
        return self.embedding_dropout.forward(embedded)

    def _embed_backward(self, grad_embedded: np.ndarray) -> None:
        grad_embedded = self.embedding_dropout.backward(grad_embedded)
        self.embedding.backward(self.word_dropout.backward(grad_embedded))

    def _classify(self, embedded: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Logits from embedded tokens: encoder, pooling, dropout, linear."""
        output, state = self.encoder.forward(embedded, None, lengths)
        h_n = state[0] if isinstance(state, tuple) else state
        features, pool_cache = self._pool(output, h_n, lengths)
        logits = self.classifier.forward(self.dropout.forward(features))
        self._cache = (output.shape, h_n.shape, lengths, pool_cache) if self.training else None
        return logits

    def _classify_backward(self, grad_logits: np.ndarray) -> np.ndarray:
        """``dL/d(embedded)`` ``(T, B, E)``; the gradients of the layers above are added."""
        if self._cache is None:
            raise RuntimeError(
                "backward: no forward pass to differentiate; call forward in training mode "
                "(model.train()) first, and only once per backward"
            )
        output_shape, h_n_shape, lengths, pool_cache = self._cache
        self._cache = None
        grad_features = self.dropout.backward(self.classifier.backward(grad_logits))
        dtype = grad_features.dtype
        grad_output = np.zeros(output_shape, dtype=dtype)
        grad_h_n = np.zeros(h_n_shape, dtype=dtype)
        self._unpool(grad_features, grad_output, grad_h_n, lengths, pool_cache)
        grad_state = (grad_h_n, None) if isinstance(self.encoder, LSTM) else grad_h_n
        grad_embedded, _ = self.encoder.backward(grad_output, grad_state)
        return grad_embedded

    # -- pooling -----------------------------------------------------------------------------

    def _pool(
        self, output: np.ndarray, h_n: np.ndarray, lengths: np.ndarray
    ) -> tuple[np.ndarray, Any]:
        """``(B, D*H)`` features (``mean-max``: ``(B, 2*D*H)``) from the encoder's
        ``output (T, B, D*H)`` or ``h_n``."""
        if self.pooling == "last":
            directions = self.encoder.num_directions
            top = h_n[-directions:]  # (D, B, H): the top layer, forward then reverse
            return np.concatenate(list(top), axis=1), None
        pooled, argmax = [], None
        if self.pooling in ("mean", "mean-max"):
            # Outputs past a row's length are zero, so the plain sum is the valid sum.
            pooled.append(output.sum(axis=0) / lengths[:, None].astype(output.dtype))
        if self.pooling in ("max", "mean-max"):
            valid = np.arange(output.shape[0])[:, None] < lengths[None, :]  # (T, B)
            masked = np.where(valid[:, :, None], output, -np.inf)
            argmax = masked.argmax(axis=0)  # (B, D*H): the step holding each maximum
            pooled.append(np.take_along_axis(output, argmax[None], axis=0)[0])
        return (pooled[0] if len(pooled) == 1 else np.concatenate(pooled, axis=1)), argmax

    def _unpool(
        self,
        grad_features: np.ndarray,
        grad_output: np.ndarray,
        grad_h_n: np.ndarray,
        lengths: np.ndarray,
        argmax: Any,
    ) -> None:
        """Route ``dL/dfeatures`` to ``grad_output`` or ``grad_h_n`` (filled in place)."""
        if self.pooling == "last":
            directions = self.encoder.num_directions
            batch = grad_features.shape[0]
            per_direction = grad_features.reshape(batch, directions, self.hidden_size)
            grad_h_n[-directions:] = per_direction.transpose(1, 0, 2)
            return
        grad_mean = grad_max = grad_features
        if self.pooling == "mean-max":
            grad_mean, grad_max = np.split(grad_features, 2, axis=1)
        if self.pooling in ("max", "mean-max"):
            np.put_along_axis(grad_output, argmax[None], grad_max[None], axis=0)
        if self.pooling in ("mean", "mean-max"):
            valid = np.arange(grad_output.shape[0])[:, None] < lengths[None, :]
            scale = valid / lengths[None, :].astype(grad_output.dtype)  # (T, B)
            grad_output += scale[:, :, None] * grad_mean[None]


def adversarial_perturbation(
    grad_embedded: np.ndarray, embedded: np.ndarray, epsilon: float
) -> np.ndarray:
    """``epsilon * ||e|| * g / ||g||`` for each text (axis 1 of ``(T, B, E)``), norms over T, E.

    A text whose gradient is zero (it cannot happen with a finite loss, short of underflow)
    gets no perturbation rather than a division by zero.
    """

    def norms(x: np.ndarray) -> np.ndarray:
        return np.sqrt(np.square(x).sum(axis=(0, 2), keepdims=True))

    tiny = np.finfo(grad_embedded.dtype).tiny
    scale = epsilon * norms(embedded) / np.maximum(norms(grad_embedded), tiny)
    return (scale * grad_embedded).astype(grad_embedded.dtype, copy=False)
