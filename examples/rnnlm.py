"""A simple RNN language model on the first 1,000 words of Penn Treebank.

The first language model of "Deep Learning from Scratch 2", chapter 5 (``SimpleRnnlm``),
written with rnnkit's ``LanguageModel``: word ids -> embedding (100) -> a vanilla RNN
(100 units, tanh) -> a linear layer over the vocabulary -> softmax cross-entropy. The
1,000 words are cut into 10 streams read side by side, 5 words at a time (truncated BPTT:
the state flows on from one window to the next, the gradient stops at each window's start),
and plain SGD with a learning rate of 0.1 trains on them for 100 epochs, the book's
settings. After each epoch it prints the perplexity on those words,

    perplexity = exp(mean over the predicted words of -log p(next word)),

which starts near the vocabulary's size (a model that guesses uniformly among the 418 words
scores 418) and falls as the model learns the text by heart. A corpus this small teaches
memorisation, not language: the point is to watch BPTT train a model.

    python examples/rnnlm.py                 # ../shared/data/ptb/ptb.train.txt.gz
    python examples/rnnlm.py --epochs 20     # a shorter look
"""

from __future__ import annotations

import argparse
import gzip
import math
from pathlib import Path

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.models import LanguageModel
from rnnkit.optim import SGD
from rnnkit.threads import limit_threads

PTB = Path(__file__).resolve().parents[2] / "shared/data/ptb/ptb.train.txt.gz"
END = "<eos>"  # the end of every line (sentence), a word of its own as in the book
BATCH_SIZE = 10  # streams read side by side; each needs two words, an input and its next


def read_words(path: Path, count: int) -> list[str]:
    """The first COUNT words of a PTB file, ``<eos>`` after every line."""
    words: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            words += line.split() + [END]
            if len(words) >= count:
                break
    return words[:count]


def run(
    words: list[str],
    epochs: int = 100,
    batch_size: int = BATCH_SIZE,
    seq_len: int = 5,
    size: int = 100,
    lr: float = 0.1,
    seed: int = 0,
    log_every: int = 10,
) -> list[float]:
    """Train on WORDS; print and return the perplexity of every epoch."""
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys(words))}
    ids = np.array([vocabulary[word] for word in words])
    print(f"{len(words)} words, {len(vocabulary)} distinct")
    model = LanguageModel(
        len(vocabulary), embedding_size=size, hidden_size=size, cell="rnn", rng=seed
    )
    optimizer = SGD(model.params, model.grads, lr=lr)
    batcher = StreamBatcher(ids, batch_size, seq_len)
    perplexities = []
    for epoch in range(1, epochs + 1):
        state, nats, predicted = None, 0.0, 0  # every epoch reads the streams from the start
        for inputs, targets in batcher:
            model.zero_grad()
            loss, state = model.loss_and_backward(inputs, targets, state)
            optimizer.step()
            nats += loss * targets.size  # the loss is a mean over the window's words
            predicted += targets.size
        perplexities.append(math.exp(nats / predicted))
        if epoch == 1 or epoch % log_every == 0 or epoch == epochs:
            print(f"epoch {epoch:3d}  perplexity {perplexities[-1]:8.2f}")
    return perplexities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(PTB), help="ptb.train.txt.gz")
    parser.add_argument("--words", type=int, default=1000, help="read this many words")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="BLAS and C-loop threads (default: all)")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        parser.exit(2, f"rnnlm.py: {args.data} not found; give --data ptb.train.txt.gz\n")
    for flag, value in [("--epochs", args.epochs), ("--threads", args.threads)]:
        if value is not None and value < 1:
            parser.exit(2, f"rnnlm.py: {flag} must be 1 or more, got {value}\n")
    try:
        words = read_words(Path(args.data), args.words)
    except (OSError, UnicodeDecodeError) as error:  # not gzip, or not text inside
        parser.exit(2, f"rnnlm.py: {args.data} does not read as gzipped text ({error})\n")
    if len(words) < 2 * BATCH_SIZE:
        parser.exit(
            2,
            f"rnnlm.py: {len(words)} words read, fewer than the {2 * BATCH_SIZE} that "
            f"{BATCH_SIZE} streams need; give --words {2 * BATCH_SIZE} or more\n",
        )
    print("A vanilla RNN language model (DLFS2, chapter 5) learns the next word of a text,")
    print(f"trained by truncated BPTT for {args.epochs} epochs; its perplexity falls as it does.")
    with limit_threads(args.threads):
        perplexities = run(words, args.epochs, seed=args.seed)
    first, last = perplexities[0], perplexities[-1]
    print(f"perplexity {first:.1f} after the first epoch, {last:.1f} after the last")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
