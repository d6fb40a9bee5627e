"""min-char-rnn: Karpathy's minimal character-level vanilla RNN, on rnnkit's layers.

Karpathy's ``min-char-rnn.py`` (2015) trains a one-layer tanh RNN to predict the next
character of a text, in about a hundred lines of NumPy. This is the same exercise with
rnnkit's pieces in place of his hand-written forward and backward passes. Each character
is a one-hot vector ``x`` over the ``V`` characters of the text, and with ``H`` = 100 units::

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)      rnnkit.nn.RNN(V, H, nonlinearity="tanh")
    y_t = Why h_t + by                          rnnkit.nn.Linear(H, V)
    p_t = softmax(y_t)                          the next character's probabilities
    loss = -sum_t log p_t[next char]            softmax_cross_entropy(y, targets, "sum")

His arrays are these rnnkit parameters (PyTorch's names)::

    Wxh  (H, V)   rnn.weight_ih_l0
    Whh  (H, H)   rnn.weight_hh_l0
    bh   (H,)     rnn.bias_ih_l0      (rnn.bias_hh_l0, PyTorch's second bias, is held at 0)
    Why  (V, H)   out.weight
    by   (V,)     out.bias

His protocol, kept here: weights drawn from N(0, 0.01^2) and biases at 0; the text read
from left to right in windows of 25 characters (``seq_length``), the hidden state carried
from each window to the next and reset to zeros at the start of the text (truncated
backpropagation through time); every gradient entry clipped to [-5, 5]; Adagrad with a
learning rate of 0.1 (``rnnkit.optim.Adagrad``, which adds its epsilon outside the square
root as PyTorch does, where he adds 1e-8 inside it); and a smoothed loss,
``smooth = 0.999 smooth + 0.001 loss``, starting from the loss of uniform guessing,
``25 log V``. Every ``--sample-every`` iterations (he used 100) it prints 200 characters
sampled from the model, started from the state it has reached and the window's first
character, and the smoothed loss. His loop runs until stopped; this one stops after
``--iterations``.

    python examples/min_char_rnn.py                  # Python's own sources
    python examples/min_char_rnn.py input.txt --iterations 50000
    python examples/min_char_rnn.py --quick          # a few seconds

Without a file it reads the first 1,000,000 characters of Python's standard library
sources, the text ``rnnkit train`` learns by default.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.default_corpus import default_corpus_text
from rnnkit.nn import RNN, Layer, Linear, softmax, softmax_cross_entropy
from rnnkit.optim import Adagrad
from rnnkit.threads import limit_threads

DEFAULT_CHARS = 1_000_000
HIDDEN_SIZE = 100
SEQ_LENGTH = 25
LEARNING_RATE = 0.1
SAMPLE_CHARS = 200
CLIP = 5.0
FROZEN = "rnn.bias_hh_l0"  # his RNN has one hidden bias: bias_ih_l0 plays it


class MinCharRNN(Layer):
    """A tanh RNN over one-hot characters and a linear layer to the next character's logits.

    Args:
        vocab_size: V, the number of distinct characters.
        hidden_size: H, the RNN's units.
        rng: the generator of the initial weights.
    """

    def __init__(self, vocab_size: int, hidden_size: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.add_layer("rnn", RNN(vocab_size, hidden_size, dtype=np.float64))
        self.add_layer("out", Linear(hidden_size, vocab_size, dtype=np.float64))
        # His initialisation rather than PyTorch's: small Gaussian weights, zero biases.
        for name, value in self.params.items():
            value[...] = rng.normal(0.0, 0.01, value.shape) if "weight" in name else 0.0

    def one_hot(self, ids: np.ndarray) -> np.ndarray:
        x = np.zeros((len(ids), self.vocab_size))
        x[np.arange(len(ids)), ids] = 1.0
        return x

    def loss_and_backward(
        self, inputs: np.ndarray, targets: np.ndarray, h: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Summed cross-entropy of TARGETS after INPUTS from state H ``(1, H)``; the gradients
        are added into ``grads``, stopping at the window's start. Returns (loss, last state)."""
        hs, h_last = self.rnn.forward(self.one_hot(inputs), h)
        loss, grad_logits = softmax_cross_entropy(self.out.forward(hs), targets, reduction="sum")
        self.rnn.backward(self.out.backward(grad_logits))
        return loss, h_last

    def sample(self, h: np.ndarray, seed_id: int, n: int, rng: np.random.Generator) -> list[int]:
        """N character ids drawn one at a time from state H, the first input SEED_ID."""
        self.eval()  # no backward cache: sampling must not disturb training
        ids, x = [], self.one_hot([seed_id])
        for _ in range(n):
            hs, h = self.rnn.forward(x, h)
            p = softmax(self.out.forward(hs)[0])
            ids.append(int(rng.choice(self.vocab_size, p=p)))
            x = self.one_hot(ids[-1:])
        self.train()
        return ids


def train(
    text: str,
    iterations: int,
    sample_every: int = 100,
    hidden_size: int = HIDDEN_SIZE,
    seq_length: int = SEQ_LENGTH,
    lr: float = LEARNING_RATE,
    seed: int = 0,
) -> dict:
    """Run his loop for ITERATIONS windows of TEXT; print and return the smoothed losses
    (``{iteration: smooth loss}`` at every sample and the last iteration), the samples
    (``{iteration: text}``) and the model."""
    chars = sorted(set(text))
    index = {char: i for i, char in enumerate(chars)}
    data = np.array([index[char] for char in text])
    print(f"data has {len(text):,} characters, {len(chars)} unique.")
    rng = np.random.default_rng(seed)
    model = MinCharRNN(len(chars), hidden_size, rng)
    trained = {name: array for name, array in model.params.items() if name != FROZEN}
    optimizer = Adagrad(trained, {name: model.grads[name] for name in trained}, lr=lr)

    smooth = -math.log(1.0 / len(chars)) * seq_length  # uniform guessing, at iteration 0
    smooth_losses, samples = {}, {}
    position, h = 0, np.zeros((1, hidden_size))
    for n in range(iterations):
        if position + seq_length + 1 >= len(data) or n == 0:
            position, h = 0, np.zeros((1, hidden_size))  # the start of the text
        inputs = data[position : position + seq_length]
        targets = data[position + 1 : position + seq_length + 1]
        if n % sample_every == 0:
            ids = model.sample(h, int(inputs[0]), SAMPLE_CHARS, rng)
            samples[n] = "".join(chars[i] for i in ids)
            print(f"---- sample at iteration {n}\n{samples[n]}\n----")

        model.zero_grad()
        loss, h = model.loss_and_backward(inputs, targets, h)
        smooth = 0.999 * smooth + 0.001 * loss
        if n % sample_every == 0 or n == iterations - 1:
            smooth_losses[n] = smooth
            print(f"iter {n}, smooth loss {smooth:.3f}")
        for grad in model.grads.values():
            np.clip(grad, -CLIP, CLIP, out=grad)  # his guard against exploding gradients
        optimizer.step()
        position += seq_length
    return {"smooth_losses": smooth_losses, "samples": samples, "model": model}


def read_text(path: str | None) -> str:
    """The file PATH names, or the default text. Raises ValueError saying what is wrong
    with the file and what to give instead."""
    if path is None:
        return default_corpus_text(DEFAULT_CHARS)
    if not Path(path).is_file():
        found = "is not a file" if Path(path).exists() else "not found"
        raise ValueError(f"{found}; give a text file, or none for Python's sources")
    try:
        text = Path(path).read_text("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text; give a UTF-8 text file") from None
    if len(text) < SEQ_LENGTH + 1:
        raise ValueError(f"has {len(text)} characters; give a text of {SEQ_LENGTH + 1} or more")
    return text


def at_least(minimum: int):
    """An argparse type: an integer of MINIMUM or more."""

    def integer(value: str) -> int:  # argparse names it: "invalid integer value: 'x'"
        number = int(value)
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {number}")
        return number

    return integer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "text", nargs="?", help="a UTF-8 text file (default: Python's own library sources)"
    )
    parser.add_argument(
        "--iterations", type=at_least(1), default=10_000, metavar="N",
        help=f"train on N windows of {SEQ_LENGTH} characters (default: 10000)",
    )  # fmt: skip
    parser.add_argument(
        "--sample-every", type=at_least(1), default=1000, metavar="N",
        help="print a sample and the smoothed loss every N iterations (Karpathy: 100)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="1000 iterations, sampled every 250: a few seconds"
    )
    parser.add_argument(
        "--seed", type=at_least(0), default=0, help="of the weights and the samples"
    )
    parser.add_argument(
        "--threads", type=at_least(1), metavar="N", help="BLAS threads (default: all)"
    )
    args = parser.parse_args()
    try:
        text = read_text(args.text)
    except ValueError as error:
        parser.exit(2, f"min_char_rnn.py: {args.text} {error}\n")
    iterations, sample_every = (1000, 250) if args.quick else (args.iterations, args.sample_every)
    print(f"Karpathy's min-char-rnn: a {HIDDEN_SIZE}-unit tanh RNN learns the next character of a")
    print("text; its smoothed loss falls and its samples start to look like the text.")
    with limit_threads(args.threads):
        result = train(text, iterations, sample_every, seed=args.seed)
    losses = result["smooth_losses"]
    first, last = min(losses), max(losses)
    print(
        f"smooth loss {losses[first]:.1f} at iteration {first}, {losses[last]:.1f} at "
        f"iteration {last} (per {SEQ_LENGTH} characters; uniform guessing: "
        f"{SEQ_LENGTH * math.log(result['model'].vocab_size):.1f})"
    )


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
