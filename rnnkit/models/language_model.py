"""A recurrent language model: predict every next token from the tokens before it.

    ids (B, T) -> Embedding -> (T, B, E) -> RNN, LSTM or GRU, num_layers deep -> (T, B, H)
               -> Dropout -> Linear (the decoder) -> logits (B, T, V)

Inputs and logits are batch-first, as ``StreamBatcher`` cuts them; inside, the model works
time-major (the recurrent kernels' layout) and only transposes the small integer ids on
the way in. The loss is softmax cross-entropy at every step, averaged over all B*T steps.

The embedding feeds the first recurrent layer directly (the dropout sits after the stack
and between its layers), so when the vocabulary is no larger than the batch of tokens
(``V <= B * T``, e.g. characters) the model hands the layer ``EmbeddedTokens`` instead of
the looked-up vectors: the first layer's input projection becomes a row lookup in the
``V x G*H`` table ``E W_ih^T + b`` and its backward yields ``dE`` from the gate gradients
summed per token id, ``O(V)`` products instead of ``O(B * T)`` (see
``rnnkit.nn.recurrent``). The results are those of the lookup up to round-off.

Truncated backpropagation through time: ``forward`` takes the state the previous window
ended in and returns the state this window ends in. ``backward`` sends no gradient into
that initial state, so the gradient stops at the window boundary while the hidden state
keeps flowing forward. A NumPy array carries no graph, so there is nothing to "detach":
passing the returned state to the next call is all a training loop does.

Weight tying (Press & Wolf 2017, Inan et al. 2017): the decoder reuses the embedding table
as its weight, so the embedding size must equal the hidden size. The table is one array,
listed once in ``params`` as ``embedding.weight``; the embedding and the decoder both add
their gradients into the one ``grads["embedding.weight"]``, which is the sum torch's
autograd computes for a shared parameter. ``state_dict()`` also lists it as
``decoder.weight``, as ``torch.nn.Module.state_dict()`` does for a tied model, so it loads
into the equivalent torch module with ``load_state_dict`` unchanged.

Initialisation follows PyTorch's word_language_model example: the embedding and the
decoder weight uniform in (-0.1, 0.1), the decoder bias zero, the recurrent layers
PyTorch's default. ``init_range=r`` instead draws every parameter uniformly from (-r, r),
as Zaremba et al. (2014) do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.config import derived, option
from rnnkit.models.configured import Configured
from rnnkit.models.token_stepper import TokenStepper
from rnnkit.nn import Dropout, Embedding, Linear, log_softmax, softmax_cross_entropy
from rnnkit.nn.embedding import EmbeddedTokens, check_indices
from rnnkit.nn.layer import Layer, check_dtype, make_rng
from rnnkit.nn.recurrent import RECURRENT_LAYERS

DEFAULT_INIT_RANGE = 0.1  # the embedding and decoder initialisation of the torch example
TIED_NAME = "decoder.weight"


@dataclass
class LanguageModelConfig:
    """The architecture of a ``LanguageModel``: its constructor's arguments, with defaults."""

    vocab_size: int = derived(0, "tokens in the vocabulary, set from the data")
    embedding_size: int = option(64, "size of the token vectors", minimum=1, maximum=1 << 16)
    hidden_size: int = option(256, "units per recurrent layer", minimum=1, maximum=1 << 16)
    num_layers: int = option(1, "stacked recurrent layers", minimum=1, maximum=64)
    cell: str = option("lstm", "the recurrent layer", choices=tuple(RECURRENT_LAYERS))
    dropout: float = option(
        0.0, "dropout between layers and before the decoder", minimum=0, below=1
    )
    tie_weights: bool = option(
        False, "share the embedding table with the decoder (embedding size = hidden size)"
    )


DEFAULT = LanguageModelConfig()


class LanguageModel(Configured, Layer):
    """Embedding -> stacked RNN/LSTM/GRU -> dropout -> Linear to the vocabulary.

    ``forward(inputs, state) -> (logits, state)``, ``backward(grad_logits)``,
    ``loss_and_backward(inputs, targets, state) -> (loss, state)`` for training,
    ``loss(inputs, targets, state)`` for evaluation and ``generate(...)`` for sampling
    (batch 1, one token at a time, through a ``TokenStepper``).
    ``state`` is what the recurrent layer takes and returns: ``h`` of shape
    ``(num_layers, B, hidden_size)``, or the pair ``(h, c)`` for an LSTM; ``None`` is zeros.

    One random generator ``rng`` makes the initial weights and then every dropout mask, so
    a training run is reproduced exactly by restoring its state (see ``rnnkit.train.rng``).
    """

    config_class = LanguageModelConfig
    config_attributes = {"dropout": "dropout_p"}

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int = DEFAULT.embedding_size,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        dropout: float = DEFAULT.dropout,
        tie_weights: bool = DEFAULT.tie_weights,
        init_range: float | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell: expected one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_size", embedding_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if int(value) != value or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if tie_weights and embedding_size != hidden_size:
            raise ValueError(
                "tie_weights: the embedding size must equal the hidden size, got "
                f"{embedding_size} and {hidden_size}"
            )
        if init_range is not None and not init_range > 0:
            raise ValueError(f"init_range: expected a positive number, got {init_range}")
        self.vocab_size = int(vocab_size)
        self.embedding_size = int(embedding_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.cell = cell
        self.dropout_p = float(dropout)
        self.tie_weights = bool(tie_weights)
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(rng)
        self._folded = False  # the last forward ran the embedding through the first layer

        # Under the attribute names a torch module would give them, which prefix the
        # parameter names ("rnn.weight_ih_l0", ...).
        self.add_layer(
            "embedding", Embedding(vocab_size, embedding_size, dtype=dtype, rng=self.rng)
        )
        # The layers draw their dropout masks from the model's generator (default_rng and
        # make_rng hand a Generator back unchanged), so its state is the whole story.
        self.add_layer(
            "rnn",
            RECURRENT_LAYERS[cell](
                embedding_size, hidden_size, num_layers, dropout=dropout, dtype=dtype, rng=self.rng
            ),
        )
        self.add_layer("dropout", Dropout(dropout, rng=self.rng))
        self.add_layer("decoder", Linear(hidden_size, vocab_size, dtype=dtype, rng=self.rng))
        self._initialise(init_range)
        if self.tie_weights:
            self.tie(TIED_NAME, "embedding.weight")

    def _initialise(self, init_range: float | None) -> None:
        if init_range is None:
            for array in (self.embedding.params["weight"], self.decoder.params["weight"]):
                array[...] = self.rng.uniform(-DEFAULT_INIT_RANGE, DEFAULT_INIT_RANGE, array.shape)
            self.decoder.params["bias"].fill(0.0)
            return
        for array in self.params.values():
            array[...] = self.rng.uniform(-init_range, init_range, array.shape)

    # -- configuration -----------------------------------------------------------------------

    # -- training ----------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, state: Any = None) -> tuple[np.ndarray, Any]:
        """Logits ``(B, T, vocab_size)`` for token ids ``(B, T)``, and the final state."""
        logits, state = self._forward_time_major(self._time_major_ids(inputs), state)
        return logits.transpose(1, 0, 2), state

    def backward(self, grad_logits: np.ndarray) -> None:
        """Add the gradient of every parameter, given ``dL/dlogits`` ``(B, T, vocab_size)``.

        Nothing flows into the initial state: that is where truncated BPTT cuts.
        """
        self._backward_time_major(np.asarray(grad_logits).transpose(1, 0, 2))

    def loss_and_backward(
        self, inputs: np.ndarray, targets: np.ndarray, state: Any = None
    ) -> tuple[float, Any]:
        """One training window: mean cross-entropy over all B*T steps, gradients added.

        Returns the loss (nats per token) and the final state to start the next window from.
        """
        logits, state = self._forward_time_major(self._time_major_ids(inputs), state)
        loss, grad_logits = softmax_cross_entropy(logits, self._time_major_ids(targets))
        self._backward_time_major(grad_logits)
        return loss, state

    def loss(self, inputs: np.ndarray, targets: np.ndarray, state: Any = None) -> tuple[float, Any]:
        """Mean cross-entropy of one window without gradients (call ``eval()`` first)."""
        logits, state = self._forward_time_major(self._time_major_ids(inputs), state)
        log_probs = log_softmax(logits)
        picked = np.take_along_axis(log_probs, self._time_major_ids(targets)[..., None], axis=-1)
        return -float(np.mean(picked, dtype=np.float64)), state

    def _time_major_ids(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"token ids: expected shape (batch, steps), got {ids.shape}")
        return np.ascontiguousarray(ids.T)

    def _forward_time_major(self, ids: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        # The table costs O(V) products and the lookup O(B * T): fold when V is the smaller.
        self._folded = self.vocab_size <= ids.size
        if self._folded:
            check_indices("token ids", ids, self.vocab_size)
            rnn_input = EmbeddedTokens(self.embedding.params["weight"], ids)
        else:
            rnn_input = self.embedding.forward(ids)
        output, state = self.rnn.forward(rnn_input, state)
        return self.decoder.forward(self.dropout.forward(output)), state

    def _backward_time_major(self, grad_logits: np.ndarray) -> None:
        grad_output = self.dropout.backward(self.decoder.backward(grad_logits))
        grad_input, _ = self.rnn.backward(grad_output)
        if self._folded:
            # The gradient of the whole table (the model's embedding has no padding row).
            self.embedding.grads["weight"] += grad_input
        else:
            self.embedding.backward(grad_input)

    # -- sampling ----------------------------------------------------------------------------

    def generate(
        self,
        prime: list[int] | np.ndarray,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        rng: np.random.Generator | int | None = None,
        exclude: Sequence[int] = (),
    ) -> Iterator[int]:
        """Yield LENGTH token ids, one at a time, continuing the non-empty PRIME ids.

        Each token is drawn from ``softmax(logits / temperature)`` restricted to the
        ``top_k`` most likely tokens (all when None) and never one of the EXCLUDE ids (a
        tokenizer's ``never_sampled``); ``temperature=0`` takes the most likely token every
        time. The model is put in evaluation mode. The draws come from RNG only, so the
        same seed gives the same text.
        """
        prime = np.asarray(prime, dtype=np.int64).ravel()
        if prime.size == 0:
            raise ValueError("prime: expected at least one token to start from")
        if not temperature >= 0:
            raise ValueError(f"temperature: expected a number >= 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k: expected a positive integer, got {top_k}")
        rng = make_rng(rng)
        self.eval()
        # The whole prime in one pass; only its last step's logits matter.
        logits, state = self._forward_time_major(prime[:, None], None)
        logits = logits[-1, 0].copy()
        bias = excluded_bias(self.decoder.params["bias"], exclude)
        logits[list(exclude)] = -np.inf
        # Then one token at a time, through weights arranged once for batch-1 steps.
        stepper = TokenStepper(self.rnn, input_table=self.embedding.params["weight"])
        stepper.set_state(state)
        stepper.set_decoder(self.decoder.params["weight"], bias)
        # One call makes the noise of many draws; the generator's stream is the same
        # whatever the block size, so the text depends on the seed alone. Greedy decoding
        # draws nothing: one row of zeros stands in.
        block = max(1, min(NOISE_BLOCK, NOISE_VALUES // self.vocab_size))
        if temperature == 0:
            block = 1
        noise = np.zeros((block, self.vocab_size))
        for index in range(length):
            if temperature != 0 and index % block == 0:
                noise = rng.gumbel(size=(min(block, length - index), self.vocab_size))
            token = draw_token(logits, temperature, top_k, noise[index % block])
            yield token
            if index + 1 < length:
                logits = stepper.step_token_logits(token)


# Draws whose Gumbel noise ``generate`` makes in one call: up to NOISE_BLOCK, and at most
# NOISE_VALUES numbers (8 MB) for large vocabularies.
NOISE_BLOCK = 256
NOISE_VALUES = 1 << 20


def excluded_bias(bias: np.ndarray, exclude: Sequence[int]) -> np.ndarray:
    """BIAS, or a copy of it with the EXCLUDE ids at -inf: the logits of those ids are then
    -inf at every step, so no draw can take them, at no cost per step."""
    if not len(exclude):
        return bias
    bias = bias.copy()
    bias[list(exclude)] = -np.inf
    return bias


def draw_token(
    logits: np.ndarray, temperature: float, top_k: int | None, gumbel: np.ndarray
) -> int:
    """One id from ``softmax(logits / temperature)`` over the TOP_K largest logits, given
    standard Gumbel noise ``gumbel`` of the logits' shape; ``temperature=0``: the argmax.

    Gumbel-max: ``argmax(logits / T + G)`` with independent standard Gumbel ``G`` is a draw
    from ``softmax(logits / T)``, and so is ``argmax(logits + T G)``, which needs no division
    and no normalisation: two NumPy calls per draw instead of a softmax and a search.
    """
    if temperature == 0:
        return int(np.argmax(logits))
    scores = temperature * gumbel
    scores += logits
    if top_k is not None and top_k < logits.size:
        # Everything below the k-th largest logit gets probability zero.
        threshold = np.partition(logits, -top_k)[-top_k]
        scores[logits < threshold] = -np.inf
    return int(np.argmax(scores))


def sample_token(
    logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator
) -> int:
    """Draw one id from ``softmax(logits / temperature)`` over the TOP_K largest logits."""
    return draw_token(np.asarray(logits), temperature, top_k, rng.gumbel(size=np.shape(logits)))
