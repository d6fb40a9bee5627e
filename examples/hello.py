"""Learn "hello": from the characters "hell", predict "ello", one character ahead.

The classic first RNN exercise of lecture courses. The alphabet is h, e, l, o; each input
character is a one-hot vector of 4 numbers, and at every step the network must name the
next character. "l" is followed once by "l" and once by "o", so the hidden state has to
remember whether an "l" has been seen already: a feed-forward network reading one
character at a time could not do it.

    x:  h    e    l    l          one-hot, (seq_len=4, batch=1, 4)
        |    |    |    |
    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      rnnkit.nn.RNN, 8 units
        |    |    |    |
    logits = W h_t + b                                        rnnkit.nn.Linear
    y:  e    l    l    o          softmax cross-entropy at every step

    python examples/hello.py
"""

from __future__ import annotations

import argparse

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.nn import RNN, Layer, Linear, softmax_cross_entropy
from rnnkit.optim import Adam

ALPHABET = "helo"


def one_hot(text: str) -> np.ndarray:
    """The characters of TEXT as one-hot rows: (len(text), batch=1, len(ALPHABET))."""
    eye = np.eye(len(ALPHABET), dtype=np.float32)
    return eye[[ALPHABET.index(char) for char in text]][:, None, :]


def train(
    steps: int = 300, hidden_size: int = 8, lr: float = 0.01, seed: int = 0, log_every: int = 5
) -> str:
    """Train until the prediction is "ello" (or STEPS run out); return the last prediction."""
    inputs = one_hot("hell")  # (4, 1, 4)
    targets = np.array([[ALPHABET.index(char)] for char in "ello"])  # (4, 1) class ids

    # A Layer that registers both gathers their parameters under one dict for the optimizer
    # ("rnn.weight_ih_l0", ..., "decoder.weight", "decoder.bias").
    model = Layer()
    rnn = model.add_layer("rnn", RNN(len(ALPHABET), hidden_size, rng=seed))
    decoder = model.add_layer("decoder", Linear(hidden_size, len(ALPHABET), rng=seed + 1))
    optimizer = Adam(model.params, model.grads, lr=lr)

    predicted = ""
    for step in range(1, steps + 1):
        # Forward: the RNN reads all four characters, the decoder scores each step.
        hidden, _ = rnn.forward(inputs)  # (4, 1, hidden_size)
        logits = decoder.forward(hidden)  # (4, 1, 4)
        loss, grad_logits = softmax_cross_entropy(logits, targets)

        # Backward through the decoder, then through time (BPTT) inside rnn.backward.
        optimizer.zero_grad()
        rnn.backward(decoder.backward(grad_logits))
        optimizer.step()

        predicted = "".join(ALPHABET[i] for i in logits[:, 0].argmax(axis=1))
        if step == 1 or step % log_every == 0 or predicted == "ello":
            print(f"step {step:3d}  loss {loss:.4f}  hell -> {predicted}")
        if predicted == "ello":
            break
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 1:
        parser.exit(2, f"hello.py: --steps must be 1 or more, got {args.steps}\n")
    print("An RNN learns to continue 'hell' with 'ello', one character ahead.")
    predicted = train(steps=args.steps, seed=args.seed)
    print(f"predicted: {predicted}  (the goal: ello)")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
