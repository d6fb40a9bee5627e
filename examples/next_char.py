"""Learn to continue "if you want me" one character at a time.

The first exercise of many RNN courses, written with rnnkit's layers: the input at step t is
the one-hot vector of character t, the target is character t + 1, and the RNN's hidden state
(one unit per character of the alphabet) is read directly as the logits of the next
character. Softmax cross-entropy over every step, Adam.

    python examples/next_char.py
"""

from __future__ import annotations

import argparse

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.nn import RNN, softmax_cross_entropy
from rnnkit.optim import Adam


def one_hot(indices: np.ndarray, size: int) -> np.ndarray:
    return np.eye(size, dtype=np.float32)[indices]


def train(text: str, steps: int, lr: float, seed: int, log_every: int) -> str:
    alphabet = sorted(set(text))
    index = {char: i for i, char in enumerate(alphabet)}
    ids = np.array([index[char] for char in text])
    inputs = one_hot(ids[:-1], len(alphabet))[:, None, :]  # (T, batch=1, alphabet)
    targets = ids[1:][:, None]  # (T, 1)

    rnn = RNN(len(alphabet), len(alphabet), rng=seed)
    optimizer = Adam(rnn.params, rnn.grads, lr=lr)
    predicted = ""
    for step in range(1, steps + 1):
        logits, _ = rnn.forward(inputs)
        loss, grad_logits = softmax_cross_entropy(logits, targets)
        optimizer.zero_grad()
        rnn.backward(grad_logits)
        optimizer.step()
        predicted = text[0] + "".join(alphabet[i] for i in logits[:, 0].argmax(axis=1))
        if step % log_every == 0 or step == 1 or predicted == text:
            print(f"step {step:4d}  loss {loss:.4f}  prediction {predicted!r}")
        if predicted == text:
            break
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="if you want me")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=2)
    args = parser.parse_args()
    if len(args.text) < 2:
        parser.exit(2, f"next_char.py: --text {args.text!r} has no next character to learn\n")
    for flag, value in [("--steps", args.steps), ("--log-every", args.log_every)]:
        if value < 1:
            parser.exit(2, f"next_char.py: {flag} must be 1 or more, got {value}\n")
    print(f"An RNN learns {args.text!r} one character at a time: from each, the next one.")
    predicted = train(args.text, args.steps, args.lr, args.seed, args.log_every)
    print(f"predicted: {predicted}")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
