"""The benchmark's character language model built from rnnkit's layers, and a fast sampler.

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
import threadpoolctl

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

    def matmul_flops_per_step(self) -> int:
        """Multiply-add FLOPs (2 per product) of every matrix product in one training step.

        Per recurrent layer with ``G`` gates: forward ``2 N G H (I + H)`` (input projection
        and recurrent products), backward twice that (input and state gradients, and the
        two weight gradients). The decoder likewise ``3 * 2 N H V``. The embedding is a
        lookup, not a product. These are the products of the unfolded model, as torch runs
        it; rnnkit's folded first layer does fewer (``V`` instead of ``N`` rows on its input
        side), so its figure is an effective rate.
        """
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[self.cell]
        rows, hidden = self.tokens_per_step, self.hidden_size
        recurrent = 6 * rows * gates * hidden * (hidden + hidden) * self.num_layers
        decoder = 6 * rows * hidden * VOCABULARY
        return recurrent + decoder


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


class LSTMSampler:
    """Batch-1 generation from a ``CharModel`` LSTM with one GEMV per layer and step.

    What makes it fast, on a step whose work is a few small matrix-vector products and so
    is dominated by the count of NumPy calls:

    - The first layer's input projection of every possible token is precomputed, a
      ``(vocabulary, 4H)`` table ``E W_ih^T + b_ih + b_hh``: a step looks up one row.
    - Deeper layers multiply the concatenated ``[x ; h]`` by ``[W_ih ; W_hh]^T`` in one
      product, reading their input straight from the buffer the layer below wrote.
    - The gates are reordered i, f, o, g and the rows of the three sigmoid gates are
      halved, so one ``tanh`` over all ``4H`` values yields ``tanh(a / 2)`` for those
      (and ``sigmoid(a) = (1 + tanh(a / 2)) / 2``) and ``tanh(a)`` for ``g``. Halving is
      exact in binary floating point, so the gates equal the unhalved computation's.
    - Every buffer is allocated once; nothing is cached for a backward pass.
    """

    def __init__(self, model: CharModel) -> None:
        rnn, H = model.rnn, model.config.hidden_size
        params = rnn.params
        self.num_layers, self.hidden_size = rnn.num_layers, H
        # Gate rows from torch's i, f, g, o to i, f, o, g, with the sigmoid gates halved.
        order = np.r_[0 : 2 * H, 3 * H : 4 * H, 2 * H : 3 * H]
        half = np.where(np.arange(4 * H) < 3 * H, 0.5, 1.0).astype(np.float32)

        def gate_rows(value: np.ndarray) -> np.ndarray:
            return value[order] * (half if value.ndim == 1 else half[:, None])

        biases = [params[f"bias_ih_l{k}"] + params[f"bias_hh_l{k}"] for k in range(rnn.num_layers)]
        projected = model.embedding.params["weight"] @ params["weight_ih_l0"].T + biases[0]
        self.table = np.ascontiguousarray(gate_rows(projected.T).T)
        self.weights_t = [np.ascontiguousarray(gate_rows(params["weight_hh_l0"]).T)]
        self.biases = [gate_rows(bias) for bias in biases]
        for layer in range(1, rnn.num_layers):
            stacked = np.concatenate(
                [params[f"weight_ih_l{layer}"], params[f"weight_hh_l{layer}"]], axis=1
            )
            self.weights_t.append(np.ascontiguousarray(gate_rows(stacked).T))
        self.decoder_t = np.ascontiguousarray(model.decoder.params["weight"].T)
        self.decoder_bias = model.decoder.params["bias"].copy()
        # The hidden states of all layers side by side: layer l >= 1 multiplies the
        # contiguous slice [h_{l-1} ; h_l] by [W_ih ; W_hh]^T, so no state is ever copied.
        self.hidden = np.zeros((1, rnn.num_layers * H), dtype=np.float32)
        self.cell = np.zeros((rnn.num_layers, 1, H), dtype=np.float32)
        self.gates = np.empty((1, 4 * H), dtype=np.float32)
        self.scratch = np.empty((1, H), dtype=np.float32)
        self.logits = np.empty((1, VOCABULARY), dtype=np.float32)

    def reset(self) -> None:
        self.hidden.fill(0.0)
        self.cell.fill(0.0)

    def step(self, token: int) -> np.ndarray:
        """Advance every layer by one token; returns the logits ``(1, vocabulary)`` less the
        decoder bias."""
        H, gates, scratch = self.hidden_size, self.gates, self.scratch
        for layer in range(self.num_layers):
            h = self.hidden[:, layer * H : (layer + 1) * H]
            if layer == 0:
                np.matmul(h, self.weights_t[0], out=gates)
                gates += self.table[token]
            else:
                np.matmul(
                    self.hidden[:, (layer - 1) * H : (layer + 1) * H],
                    self.weights_t[layer],
                    out=gates,
                )
                gates += self.biases[layer]
            # tanh(a / 2) for i, f, o and tanh(a) for g; then sigmoid = (1 + tanh(a / 2)) / 2.
            np.tanh(gates, out=gates)
            sigmoid_gates = gates[:, : 3 * H]
            sigmoid_gates *= 0.5
            sigmoid_gates += 0.5
            i, f, o, g = (
                gates[:, :H],
                gates[:, H : 2 * H],
                gates[:, 2 * H : 3 * H],
                gates[:, 3 * H :],
            )
            c = self.cell[layer]
            c *= f
            np.multiply(i, g, out=scratch)
            c += scratch
            np.tanh(c, out=scratch)
            np.multiply(o, scratch, out=h)
        np.matmul(self.hidden[:, -H:], self.decoder_t, out=self.logits)
        return self.logits  # without the decoder bias: ``sample`` adds it to its noise

    def sample(self, first_token: int, count: int, rng: np.random.Generator) -> list[int]:
        """``count`` tokens drawn one at a time from the softmax of the logits.

        Gumbel-max: ``argmax(logits + G)`` with standard Gumbel noise ``G`` is a draw from
        ``softmax(logits)``, and the noise of every step (plus the decoder bias) is made in
        one call up front, which leaves two NumPy calls per draw instead of a softmax.
        BLAS runs on one thread: a batch-1 step is a few matrix-vector products, too small
        to gain from a second thread and slowed by its synchronisation (3-8x on a busy
        machine, measured).
        """
        noise = rng.gumbel(size=(count, VOCABULARY)).astype(np.float32)
        noise += self.decoder_bias
        scores = np.empty(VOCABULARY, dtype=np.float32)
        tokens, token = [], first_token
        with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
            for index in range(count):
                np.add(self.step(token)[0], noise[index], out=scores)
                token = int(scores.argmax())
                tokens.append(token)
        return tokens
