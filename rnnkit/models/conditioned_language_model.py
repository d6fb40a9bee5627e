"""One-to-many: a language model whose text is conditioned on a category or a feature vector.

::

    condition: category id (B,)  -> Embedding ("condition_embedding")  c (B, C)
            or feature vector (B, F)                                  c = features (F = C)
    bridge:    s_0 = tanh(W_b c + b_b)        (B, S*L*H) -> the initial state, layer by layer
               (S = 2 for an LSTM: h_0 and c_0 both come from the bridge; 1 otherwise)
    ids (B, T) -> Embedding (T, B, E) [ ; c at every step if feed_condition ] (T, B, E + C)
               -> RNN / LSTM / GRU from s_0, packed lengths -> Dropout -> Linear -> (B, T, V)

The loss is the mean cross-entropy of the next token over the real (unpadded) steps. Its
gradient reaches the condition two ways: through the initial state,

    dL/dz = dL/ds_0 * (1 - s_0^2),   dL/dW_b = dz^T c,   dL/dc += dz W_b

(``z = W_b c + b_b``; ``dL/ds_0`` is what the recurrent layer's backward returns for its
initial state), and, with ``feed_condition``, through every step's input,
``dL/dc += sum_t dL/dx_t[E:]`` over the row's real steps. A category's ``dL/dc`` then goes
into its row of the condition embedding.

``generate(condition, prime, length)`` samples one text: the bridge sets the state, the
prime runs in one pass, then one token at a time (``TokenStepper``).

Parameters carry PyTorch's names (``condition_embedding.weight``, ``bridge.weight``,
``embedding.weight``, ``rnn.weight_ih_l0``, ``decoder.bias``); ``embedding`` has one more
row than the vocabulary, ``pad_id = vocab_size``, for padded steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import derived, option
from rnnkit.models.configured import Configured
from rnnkit.models.language_model import (
    DEFAULT_INIT_RANGE,
    RECURRENT_LAYERS,
    draw_token,
    excluded_bias,
)
from rnnkit.models.token_stepper import TokenStepper
from rnnkit.nn import Dropout, Embedding, Layer, Linear, softmax_cross_entropy
from rnnkit.nn.layer import check_dtype, make_rng

CONDITIONS = ("category", "vector")
IGNORE = -1  # the target of padded steps


@dataclass
class ConditionedLanguageModelConfig:
    """The architecture of a ``ConditionedLanguageModel``: its constructor's arguments.

    The defaults (LSTM 256, dropout 0.3, category vectors of 16 fed at every step) are
    those ``benchmarks/generate.py`` chose on validation for the surnames of 18 languages.
    """

    vocab_size: int = derived(0, "tokens in the vocabulary, set from the data")
    condition: str = option(
        "category",
        "what conditions a text: one of N categories, or a feature vector",
        choices=CONDITIONS,
    )
    num_categories: int = derived(0, "categories, set from the data")
    feature_size: int = derived(0, "numbers per condition vector, set from the data")
    condition_size: int = option(
        16, "size of a category's learned vector", minimum=1, maximum=1 << 16
    )
    embedding_size: int = option(32, "size of the token vectors", minimum=1, maximum=1 << 16)
    hidden_size: int = option(256, "units per recurrent layer", minimum=1, maximum=1 << 16)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1, maximum=64)
    cell: str = option("lstm", "the recurrent layer", choices=tuple(RECURRENT_LAYERS))
    dropout: float = option(
        0.3, "dropout between layers and before the decoder", minimum=0, below=1
    )
    feed_condition: bool = option(True, "also feed the condition at every step's input")


DEFAULT = ConditionedLanguageModelConfig()


class ConditionedLanguageModel(Configured, Layer):
    """Condition -> bridge -> initial state; embedding (+ condition) -> RNN -> decoder.

    ``condition`` arguments are category ids ``(B,)`` (``condition="category"``) or feature
    rows ``(B, feature_size)`` (``condition="vector"``).
    """

    config_class = ConditionedLanguageModelConfig
    config_attributes = {"dropout": "dropout_p"}

    def __init__(
        self,
        vocab_size: int,
        condition: str = DEFAULT.condition,
        num_categories: int = DEFAULT.num_categories,
        feature_size: int = DEFAULT.feature_size,
        condition_size: int = DEFAULT.condition_size,
        embedding_size: int = DEFAULT.embedding_size,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        dropout: float = DEFAULT.dropout,
        feed_condition: bool = DEFAULT.feed_condition,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(
                f"condition: expected one of {', '.join(CONDITIONS)}, got {condition!r}"
            )
        if cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell: expected one of {', '.join(RECURRENT_LAYERS)}, got {cell!r}")
        needed = (
            ("num_categories", num_categories)
            if condition == "category"
            else ("feature_size", feature_size)
        )
        if needed[1] < 1:
            raise ValueError(f"{needed[0]}: expected at least 1 with condition={condition!r}")
        self.vocab_size, self.condition = int(vocab_size), condition
        self.num_categories, self.feature_size = int(num_categories), int(feature_size)
        self.condition_size = int(condition_size)
        self.embedding_size, self.hidden_size = int(embedding_size), int(hidden_size)
        self.num_layers, self.cell, self.dropout_p = int(num_layers), cell, float(dropout)
        self.feed_condition = bool(feed_condition)
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(rng)
        self.pad_id = self.vocab_size

        width = self.condition_size if condition == "category" else self.feature_size
        self.condition_width = width
        if condition == "category":
            table = Embedding(num_categories, condition_size, dtype=dtype, rng=self.rng)
            self.add_layer("condition_embedding", table)
        self.states = 2 if cell == "lstm" else 1  # S: h_0, and c_0 for an LSTM
        bridge = Linear(width, self.states * num_layers * hidden_size, dtype=dtype, rng=self.rng)
        self.add_layer("bridge", bridge)
        embedding = Embedding(
            vocab_size + 1, embedding_size, self.pad_id, dtype=dtype, rng=self.rng
        )
        weight = embedding.params["weight"]
        weight[...] = self.rng.uniform(-DEFAULT_INIT_RANGE, DEFAULT_INIT_RANGE, weight.shape)
        weight[self.pad_id] = 0.0
        self.add_layer("embedding", embedding)
        inputs = embedding_size + (width if self.feed_condition else 0)
        rnn = RECURRENT_LAYERS[cell](
            inputs, hidden_size, num_layers, dropout=dropout, dtype=dtype, rng=self.rng
        )
        self.add_layer("rnn", rnn)
        self.add_layer("dropout", Dropout(dropout, rng=self.rng))
        self.add_layer("decoder", Linear(hidden_size, vocab_size, dtype=dtype, rng=self.rng))
        self._cache: tuple[Any, ...] | None = None

    # -- the condition -----------------------------------------------------------------------

    def _condition_vectors(self, condition: Any, batch: int) -> np.ndarray:
        """``c`` ``(B, C)``: the categories' learned vectors, or the feature rows."""
        if self.condition == "category":
            ids = np.asarray(condition)
            if ids.shape != (batch,) or ids.dtype.kind not in "iu":
                raise ValueError(f"condition: expected {batch} category ids, got {ids!r}")
            return self.condition_embedding.forward(ids)
        features = np.asarray(condition, dtype=self.dtype)
        if features.shape != (batch, self.feature_size):
            raise ValueError(
                f"condition: expected feature rows of shape {(batch, self.feature_size)}, "
                f"got {features.shape}"
            )
        if not np.all(np.isfinite(features)):
            raise ValueError("condition: the feature rows hold NaN or infinite values")
        return features

    def initial_state(self, vectors: np.ndarray) -> Any:
        """``tanh(bridge(c))`` as the recurrent layer's initial state ``(L, B, H)`` (a pair
        for an LSTM)."""
        batch = len(vectors)
        z = self.bridge.forward(vectors).reshape(batch, self.states, self.num_layers, -1)
        state = np.tanh(z).transpose(1, 2, 0, 3)  # (S, L, B, H)
        return (state[0], state[1]) if self.states == 2 else state[0]

    # -- forward / backward ------------------------------------------------------------------

    def forward(self, inputs: Any, condition: Any, lengths: Any = None) -> np.ndarray:
        """Logits ``(B, T, vocab_size)`` of the next token after each of INPUTS ``(B, T)``."""
        ids = np.asarray(inputs)
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"inputs: expected a non-empty (batch, steps) array, got {ids.shape}")
        batch, steps = ids.shape
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        vectors = self._condition_vectors(condition, batch)
        state = self.initial_state(vectors)
        x = self.embedding.forward(np.ascontiguousarray(ids.T))  # (T, B, E)
        if self.feed_condition:
            x = np.concatenate([x, np.broadcast_to(vectors, (steps, *vectors.shape))], axis=2)
        output, _ = self.rnn.forward(x, state, lengths)
        logits = self.decoder.forward(self.dropout.forward(output))
        self._cache = (state, lengths) if self.training else None
        return logits.transpose(1, 0, 2)

    def backward(self, grad_logits: np.ndarray) -> np.ndarray:
        """Add every parameter's gradient, given ``dL/dlogits`` ``(B, T, vocab_size)``;
        returns ``dL/dc`` ``(B, C)`` (for feature vectors: the features' gradient)."""
        if self._cache is None:
            raise RuntimeError("backward: no forward pass to differentiate (call forward first)")
        state, lengths = self._cache
        self._cache = None
        grad = np.asarray(grad_logits).transpose(1, 0, 2)
        grad_x, grad_state = self.rnn.backward(self.dropout.backward(self.decoder.backward(grad)))
        parts = grad_state if isinstance(grad_state, tuple) else (grad_state,)
        states = state if isinstance(state, tuple) else (state,)
        grad_z = np.stack([g * (1.0 - s * s) for g, s in zip(parts, states, strict=True)])
        batch = grad_z.shape[2]
        grad_vectors = self.bridge.backward(grad_z.transpose(2, 0, 1, 3).reshape(batch, -1))
        if self.feed_condition:
            valid = np.arange(grad_x.shape[0])[:, None] < lengths[None, :]  # (T, B)
            grad_vectors += (grad_x[:, :, self.embedding_size :] * valid[:, :, None]).sum(axis=0)
        self.embedding.backward(np.ascontiguousarray(grad_x[:, :, : self.embedding_size]))
        if self.condition == "category":
            self.condition_embedding.backward(grad_vectors)
        return grad_vectors

    def loss_and_backward(
        self, inputs: Any, targets: Any, condition: Any, lengths: Any = None
    ) -> float:
        """Mean cross-entropy of TARGETS ``(B, T)`` over the real steps; gradients added."""
        loss, grad = self._loss(self.forward(inputs, condition, lengths), targets, lengths)
        self.backward(grad)
        return loss

    def loss(self, inputs: Any, targets: Any, condition: Any, lengths: Any = None) -> float:
        """The same mean cross-entropy, in evaluation mode and without gradients."""
        was_training = self.training
        self.eval()
        try:
            return self._loss(self.forward(inputs, condition, lengths), targets, lengths)[0]
        finally:
            self.train(was_training)

    def _loss(self, logits: np.ndarray, targets: Any, lengths: Any) -> tuple[float, np.ndarray]:
        batch, steps, _ = logits.shape
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        targets = np.asarray(targets)
        padded = np.arange(steps)[None, :] >= lengths[:, None]
        return softmax_cross_entropy(logits, np.where(padded, IGNORE, targets), IGNORE)

    # -- sampling ----------------------------------------------------------------------------

    def generate(
        self,
        condition: Any,
        prime: list[int] | np.ndarray,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        stop: int | None = None,
        rng: np.random.Generator | int | None = None,
        exclude: Sequence[int] = (),
    ) -> Iterator[int]:
        """Yield up to LENGTH token ids continuing PRIME (non-empty, e.g. a start token)
        under one CONDITION (a category id, or one feature row).

        Each token is drawn from ``softmax(logits / temperature)`` over the ``top_k`` most
        likely (``temperature=0``: the most likely), never one of the EXCLUDE ids; the token
        STOP ends the text without being yielded. The model is put in evaluation mode.
        """
        prime = np.asarray(prime, dtype=np.int64).ravel()
        if prime.size == 0:
            raise ValueError("prime: expected at least one token to start from")
        if not temperature >= 0:
            raise ValueError(f"temperature: expected a number >= 0, got {temperature}")
        rng = make_rng(rng)
        self.eval()
        condition = np.asarray(condition)
        single = condition.reshape(1) if self.condition == "category" else condition.reshape(1, -1)
        vector = self._condition_vectors(single, 1)[0]
        stepper = TokenStepper(self.rnn)  # batch-1 steps from the bridge's state
        stepper.set_state(self.initial_state(vector[None]))
        table, weight, bias = (
            self.embedding.params["weight"],
            self.decoder.params["weight"],
            excluded_bias(self.decoder.params["bias"], exclude),
        )

        def step(token: int) -> np.ndarray:
            x = np.concatenate([table[token], vector]) if self.feed_condition else table[token]
            return weight @ stepper.step(x) + bias

        for token in prime:
            logits = step(int(token))
        for _ in range(length):
            token = draw_token(logits, temperature, top_k, rng.gumbel(size=logits.shape))
            if token == stop:
                return
            yield token
            logits = step(token)
