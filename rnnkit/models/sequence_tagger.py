"""A synced many-to-many model: one tag for every token (part of speech, chunk, entity).

::

    ids (B, T), lengths (B,)            [chars: WordChars, optional]
      -> Embedding            (T, B, E)        row ``pad_id`` is the padding, always zero
      -> [ ; CharWordEncoder] (T, B, E + 2Hc)  each word's spelling (``char_hidden_size > 0``)
      -> Dropout
      -> RNN / LSTM / GRU     (T, B, D*H)      stacked, bidirectional by default; packed lengths
      -> Dropout
      -> Linear ("output")    (B, T, K)        emission scores of the K tags
      -> loss: softmax cross-entropy per token, or a linear-chain CRF (``crf=True``)

Without a CRF each tag is chosen alone, ``argmax_k emissions[b, t, k]``, and the loss is
the mean cross-entropy over the real tokens of the batch::

    L = -(1 / sum_b n_b) sum_b sum_{t < n_b} log softmax(emissions[b, t])[y_bt]

With ``crf=True`` the tags are chosen together, ``argmax_y score(y)`` (Viterbi), where
``score`` adds learned tag-to-tag transition scores to the emissions (``rnnkit.nn.crf``),
and the loss is the CRF's negative log-likelihood, also divided by the token count::

    L = (1 / sum_b n_b) sum_b (log Z_b - score_b(y_b))

The encoder runs with packed-sequence semantics, so padding changes no row's emissions or
gradients. Parameters carry PyTorch's names under the sub-layer's name (``embedding.weight``,
``char_encoder.rnn.weight_ih_l0_reverse``, ``encoder.weight_hh_l1``, ``output.bias``,
``crf.transitions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import derived, option
from rnnkit.models.char_word_encoder import CharWordEncoder, WordChars
from rnnkit.models.configured import Configured
from rnnkit.models.sequence_classifier import EMBEDDING_INIT_RANGE, ENCODERS
from rnnkit.nn import Dropout, Embedding, Layer, Linear, softmax_cross_entropy
from rnnkit.nn.crf import CRF
from rnnkit.nn.layer import check_dtype, make_rng

IGNORE = -1  # the target of padded positions


@dataclass
class SequenceTaggerConfig:
    """The architecture of a ``SequenceTagger``: its constructor's arguments, with defaults.

    The defaults follow Lample et al. (2016): 100-unit word vectors, 25-unit character
    vectors read by a 25-unit bidirectional character LSTM, a bidirectional word LSTM.
    """

    vocab_size: int = derived(0, "words in the vocabulary, set from the data")
    num_tags: int = derived(2, "tags, set from the data", minimum=2)
    char_vocab_size: int = derived(0, "characters in the character vocabulary, set from the data")
    # The defaults are the settings chosen on UD English-LinES dev (benchmarks/tag.py).
    embedding_size: int = option(100, "size of the word vectors", minimum=1, maximum=1 << 16)
    char_embedding_size: int = option(
        32, "size of the character vectors", minimum=1, maximum=1 << 16
    )
    char_hidden_size: int = option(
        64,
        "units per direction of the character-level word encoder (0: words only)",
        minimum=0,
        maximum=1 << 16,
    )
    hidden_size: int = option(
        128, "units per recurrent layer and direction", minimum=1, maximum=1 << 16
    )
    num_layers: int = option(2, "stacked recurrent layers", minimum=1, maximum=64)
    cell: str = option("lstm", "the recurrent layer", choices=tuple(ENCODERS))
    bidirectional: bool = option(True, "read each sentence in both directions")
    dropout: float = option(
        0.5,
        "dropout of the word representations, between layers and before the output",
        minimum=0,
        below=1,
    )
    crf: bool = option(False, "choose the tags together with a linear-chain CRF (Viterbi)")


DEFAULT = SequenceTaggerConfig()


class SequenceTagger(Configured, Layer):
    """Embedding (+ character word vectors) -> recurrent encoder -> per-token scores (+ CRF).

    Word ids run from 0 to ``vocab_size - 1``; ``pad_id = vocab_size`` pads. With
    ``char_hidden_size > 0`` every call also takes the batch's ``WordChars`` (char ids from
    0 to ``char_vocab_size - 1``).
    """

    config_class = SequenceTaggerConfig
    config_attributes = {"dropout": "dropout_p", "crf": "use_crf"}

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        char_vocab_size: int = DEFAULT.char_vocab_size,
        embedding_size: int = DEFAULT.embedding_size,
        char_embedding_size: int = DEFAULT.char_embedding_size,
        char_hidden_size: int = DEFAULT.char_hidden_size,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        bidirectional: bool = DEFAULT.bidirectional,
        dropout: float = DEFAULT.dropout,
        crf: bool = DEFAULT.crf,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if cell not in ENCODERS:
            raise ValueError(f"cell: expected one of {', '.join(ENCODERS)}, got {cell!r}")
        if num_tags < 2:
            raise ValueError(f"num_tags: expected at least 2, got {num_tags}")
        if char_hidden_size > 0 and char_vocab_size < 1:
            raise ValueError(
                "char_vocab_size: expected at least 1 with a character encoder "
                f"(char_hidden_size={char_hidden_size}), got {char_vocab_size}"
            )
        self.vocab_size, self.num_tags = int(vocab_size), int(num_tags)
        self.char_vocab_size = int(char_vocab_size)
        self.embedding_size, self.char_embedding_size = (
            int(embedding_size),
            int(char_embedding_size),
        )
        self.char_hidden_size, self.hidden_size = int(char_hidden_size), int(hidden_size)
        self.num_layers, self.cell, self.bidirectional = int(num_layers), cell, bool(bidirectional)
        self.dropout_p, self.use_crf = float(dropout), bool(crf)
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(rng)  # one generator: initial weights, then every dropout mask
        self.pad_id = self.vocab_size

        embedding = Embedding(
            vocab_size + 1, embedding_size, self.pad_id, dtype=dtype, rng=self.rng
        )
        weight = embedding.params["weight"]
        weight[...] = self.rng.uniform(-EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE, weight.shape)
        weight[self.pad_id] = 0.0
        self.add_layer("embedding", embedding)
        features = self.embedding_size
        if self.char_hidden_size > 0:
            chars = CharWordEncoder(
                char_vocab_size, char_embedding_size, char_hidden_size, cell, dtype, self.rng
            )
            self.add_layer("char_encoder", chars)
            features += chars.output_size
        self.add_layer("input_dropout", Dropout(dropout, rng=self.rng))
        self.add_layer(
            "encoder",
            ENCODERS[cell](
                features,
                hidden_size,
                num_layers,
                dropout=dropout if num_layers > 1 else 0.0,
                bidirectional=bidirectional,
                dtype=dtype,
                rng=self.rng,
            ),
        )
        self.add_layer("dropout", Dropout(dropout, rng=self.rng))
        outputs = self.encoder.num_directions * hidden_size
        self.add_layer("output", Linear(outputs, num_tags, dtype=dtype, rng=self.rng))
        if self.use_crf:
            self.add_layer("crf", CRF(num_tags, "token_mean", dtype=dtype, rng=self.rng))

    # -- forward / backward ------------------------------------------------------------------

    def forward(self, ids: Any, lengths: Any = None, chars: WordChars | None = None) -> np.ndarray:
        """Emission scores ``(B, T, num_tags)`` for padded word ids ``(B, T)``.

        ``lengths=None`` means every row fills all ``T`` steps; CHARS is required exactly
        when the model has a character encoder.
        """
        ids, lengths = self._checked(ids, lengths, chars)
        embedded = self.embedding.forward(ids.T)  # (T, B, E)
        if self.char_hidden_size > 0:
            spelled = self.char_encoder.forward(chars).transpose(1, 0, 2)
            embedded = np.concatenate([embedded, spelled], axis=2)
        output, _ = self.encoder.forward(self.input_dropout.forward(embedded), None, lengths)
        emissions = self.output.forward(self.dropout.forward(output))
        return emissions.transpose(1, 0, 2)

    def backward(self, grad_emissions: np.ndarray) -> None:
        """Add the gradient of every parameter below the emissions, given ``dL/demissions``
        ``(B, T, num_tags)`` (zero at padded positions: they reach nothing anyway)."""
        grad = np.asarray(grad_emissions).transpose(1, 0, 2)
        grad_output = self.dropout.backward(self.output.backward(grad))
        grad_input, _ = self.encoder.backward(grad_output)
        grad_input = self.input_dropout.backward(grad_input)
        E = self.embedding_size
        self.embedding.backward(np.ascontiguousarray(grad_input[:, :, :E]))
        if self.char_hidden_size > 0:
            self.char_encoder.backward(grad_input[:, :, E:].transpose(1, 0, 2))

    def loss_and_backward(
        self, ids: Any, lengths: Any, tags: Any, chars: WordChars | None = None
    ) -> float:
        """The loss of the batch (see the module docstring); its gradients are added."""
        if not self.training:
            raise RuntimeError("loss_and_backward: the model is in evaluation mode; call train()")
        emissions = self.forward(ids, lengths, chars)
        loss, grad = self._loss(emissions, lengths, tags)
        self.backward(grad)
        return loss

    def loss(self, ids: Any, lengths: Any, tags: Any, chars: WordChars | None = None) -> float:
        """The loss without gradients, in evaluation mode (no dropout)."""
        was_training = self.training
        self.eval()
        try:
            return self._loss(self.forward(ids, lengths, chars), lengths, tags)[0]
        finally:
            self.train(was_training)

    def _loss(
        self, emissions: np.ndarray, lengths: Any, tags: Any
    ) -> tuple[float, np.ndarray | None]:
        """The loss and, in training mode, ``dL/demissions``."""
        batch, steps, _ = emissions.shape
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        tags = np.asarray(tags)
        if tags.shape != (batch, steps):
            raise ValueError(f"tags: expected shape {(batch, steps)}, got {tags.shape}")
        padded = np.arange(steps)[None, :] >= lengths[:, None]
        if self.use_crf:
            loss = self.crf.forward(emissions, tags, lengths)
            return loss, (self.crf.backward() if self.training else None)
        return softmax_cross_entropy(emissions, np.where(padded, IGNORE, tags), IGNORE)

    def predict(self, ids: Any, lengths: Any = None, chars: WordChars | None = None) -> np.ndarray:
        """Tag ids ``(B, T)`` (``-1`` past each length), in evaluation mode: the per-token
        argmax, or with a CRF the Viterbi sequence."""
        was_training = self.training
        self.eval()
        try:
            emissions = self.forward(ids, lengths, chars)
        finally:
            self.train(was_training)
        batch, steps, _ = emissions.shape
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        if self.use_crf:
            return self.crf.decode(emissions, lengths)
        tags = emissions.argmax(axis=2)
        tags[np.arange(steps)[None, :] >= lengths[:, None]] = -1
        return tags

    def _checked(
        self, ids: Any, lengths: Any, chars: WordChars | None
    ) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"ids: expected a non-empty 2-D array (batch, steps), got {ids.shape}")
        if (chars is None) != (self.char_hidden_size == 0):
            needed = "needs" if chars is None else "has no character encoder for"
            raise ValueError(f"chars: the model {needed} the words' characters")
        if chars is not None and np.shape(chars.index) != ids.shape:
            raise ValueError(
                f"chars.index: expected the shape of ids {ids.shape}, got {np.shape(chars.index)}"
            )
        batch, num_steps = ids.shape
        lengths = np.full(batch, num_steps) if lengths is None else np.asarray(lengths)
        return ids, lengths
