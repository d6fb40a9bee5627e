"""The benchmark's character language model built from rnnkit's layers.

    tokens (T, B) -> Embedding -> RNN/LSTM/GRU layers -> Linear -> softmax cross-entropy

The training step hands the first recurrent layer the token ids and the embedding table
(``EmbeddedTokens``), as ``rnnkit.models.LanguageModel`` does when the vocabulary is no
larger than the batch of tokens: the layer's input projection is then a lookup in the
``vocabulary x G*H`` table ``E W_ih^T + b`` and its backward returns the table's gradient.

Parameter names follow the torch twin in ``torch_char_model`` (``embedding.weight``,
``rnn.weight_ih_l0``, ``decoder.bias``, ...) so one state dict loads into both. Only NumPy
and rnnkit are imported here, so a peak-memory measurement of this side carries no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import rnnkit.nn
from rnnkit.nn import Embedding, Linear, softmax_cross_entropy
from rnnkit.nn.embedding import EmbeddedTokens
from rnnkit.optim import Adam, clip_grad_norm

VOCABULARY = 65
MAX_GRAD_NORM = 1.0
LEARNING_RATE = 2e-3


@dataclass(frozen=True)
class Config:
    """One benchmark configuration; embedding size = hidden size."""

    name: str
    cell: str  # "RNN", "LSTM" or "GRU"
    hidden_size: int
    num_layers: int
    batch: int
    length: int

    @property
    def tokens_per_step(self) -> int:
        return self.batch * self.length

    def matmul_flops_per_step(self, folded: bool = False) -> int:
        """Multiply-add FLOPs (2 per product) of every matrix product in one training step.

        Per recurrent layer with ``G`` gates: forward ``2 N G H (I + H)`` (input projection
        and recurrent products), backward twice that (input and state gradients, and the
        two weight gradients). The decoder likewise ``3 * 2 N H V``. The embedding is a
        lookup, not a product. These are the products of the unfolded model, as torch runs
        it; ``folded``: those rnnkit does, whose first layer takes its input side through
        the embedding table, ``V`` rows instead of ``N`` (a rate from the unfolded count
        would be an effective one, and could exceed the machine's peak).
        """
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[self.cell]
        rows, hidden = self.tokens_per_step, self.hidden_size
        first_input_rows = VOCABULARY if folded else rows
        input_side = 6 * gates * hidden * hidden * (first_input_rows + rows * (self.num_layers - 1))
        recurrent = 6 * rows * gates * hidden * hidden * self.num_layers
        decoder = 6 * rows * hidden * VOCABULARY
        return input_side + recurrent + decoder


CONFIGS = {
    "A": Config("A", "LSTM", 128, 1, 32, 64),
    "B": Config("B", "LSTM", 256, 2, 32, 64),
    "C": Config("C", "LSTM", 512, 2, 64, 100),
    "B-GRU": Config("B-GRU", "GRU", 256, 2, 32, 64),
    "B-RNN": Config("B-RNN", "RNN", 256, 2, 32, 64),
}


def random_batch(config: Config, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Input tokens and next-token targets, both ``(T, B)`` int64."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCABULARY, size=(config.length + 1, config.batch))
    return tokens[:-1], tokens[1:]


class CharModel:
    """Embedding -> recurrent layers -> Linear, with an Adam training step."""

    def __init__(self, config: Config, seed: int = 0) -> None:
        self.config = config
        size = config.hidden_size
        self.embedding = Embedding(VOCABULARY, size, rng=seed)
        self.rnn = getattr(rnnkit.nn, config.cell)(size, size, config.num_layers, rng=seed + 1)
        self.decoder = Linear(size, VOCABULARY, rng=seed + 2)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        for prefix, layer in self.layers().items():
            for name in layer.params:
                self.params[f"{prefix}.{name}"] = layer.params[name]
                self.grads[f"{prefix}.{name}"] = layer.grads[name]
        self.optimizer = Adam(self.params, self.grads, lr=LEARNING_RATE)

    def layers(self) -> dict[str, rnnkit.nn.Layer]:
        return {"embedding": self.embedding, "rnn": self.rnn, "decoder": self.decoder}

    def state_dict(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.params.items()}

    def train_step(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """Forward, backward, global-norm clip and one Adam update; returns the loss."""
        self.optimizer.zero_grad()
        table = self.embedding.params["weight"]
        output, _ = self.rnn.forward(EmbeddedTokens(table, inputs))
        logits = self.decoder.forward(output)
        loss, grad_logits = softmax_cross_entropy(logits, targets)
        grad_output = self.decoder.backward(grad_logits)
        grad_table, _ = self.rnn.backward(grad_output)
        self.embedding.grads["weight"] += grad_table
        clip_grad_norm(self.grads, MAX_GRAD_NORM)
        self.optimizer.step()
        return loss
