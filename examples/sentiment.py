"""Sentiment: is a movie review's sentence positive or negative? A many-to-one bi-LSTM.

SST-2 (Stanford Sentiment Treebank, two classes): each sentence is read in both directions
by a bidirectional LSTM, and the two final hidden states, one from each end, are the
sentence's summary for a linear layer that scores the two classes. Many inputs, one output.

Sentences differ in length, so a batch is padded to its longest sentence and the LSTM is
given each sentence's length: it stops every row at its own last word (a packed sequence
in PyTorch), so the padding changes nothing. The batches group sentences of similar length,
which keeps the padding short.

    ids (B, T) -> Embedding -> (B, T, 64) -> bi-LSTM(64), lengths -> [h_fwd ; h_rev] (B, 128)
               -> Linear -> logits (B, 2) -> softmax cross-entropy

    python examples/sentiment.py                      # SST-2 from ../shared/data/sst2/
    python examples/sentiment.py --train-size 2000    # a quicker look

It ends with the accuracy on held-out sentences against always answering the most common
class.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.length_buckets import bucket_batches, pad_batch, sorted_batches
from rnnkit.nn import LSTM, Embedding, Layer, Linear, softmax_cross_entropy
from rnnkit.optim import Adam, clip_grad_norm

SST2 = Path(__file__).resolve().parents[2] / "shared/data/sst2"
PAD, UNK = 0, 1


def read_sst2(path: Path, limit: int | None = None) -> tuple[list[list[str]], np.ndarray]:
    """Sentences (as words) and labels from a "<label> <sentence>" file."""
    words, labels = [], []
    for line in path.read_text("utf-8").splitlines()[:limit]:
        label, _, sentence = line.partition(" ")
        words.append(sentence.split())
        labels.append(int(label))
    return words, np.array(labels)


class Vocabulary:
    """Words seen at least twice in training; 0 is padding, 1 any other word."""

    def __init__(self, sentences: list[list[str]], min_count: int = 2) -> None:
        counts = Counter(word for sentence in sentences for word in sentence)
        kept = sorted(word for word, count in counts.items() if count >= min_count)
        self.index = {word: i + 2 for i, word in enumerate(kept)}

    def __len__(self) -> int:
        return len(self.index) + 2

    def encode(self, sentence: list[str]) -> np.ndarray:
        return np.array([self.index.get(word, UNK) for word in sentence] or [UNK])


class BiLSTMClassifier(Layer):
    def __init__(self, vocab_size: int, size: int = 64, classes: int = 2, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.add_layer("embedding", Embedding(vocab_size, size, padding_idx=PAD, rng=rng))
        self.add_layer("lstm", LSTM(size, size, batch_first=True, bidirectional=True, rng=rng))
        self.add_layer("output", Linear(2 * size, classes, rng=rng))

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        self.shape = ids.shape
        _, (h_n, _) = self.lstm.forward(self.embedding.forward(ids), lengths=lengths)
        # h_n (2, B, H): the forward direction's state at each row's last word, and the
        # reverse direction's at its first word; together the sentence's summary.
        return self.output.forward(np.concatenate([h_n[0], h_n[1]], axis=1))

    def backward(self, grad_logits: np.ndarray) -> None:
        grad_summary = self.output.backward(grad_logits)
        H = self.lstm.hidden_size
        grad_h_n = np.stack([grad_summary[:, :H], grad_summary[:, H:]])
        # No gradient arrives through the per-step outputs: only through h_n.
        grad_output = np.zeros((*self.shape, 2 * H), dtype=np.float32)
        grad_x, _ = self.lstm.backward(grad_output, (grad_h_n, None))
        self.embedding.backward(grad_x)


def accuracy(model: BiLSTMClassifier, ids: list[np.ndarray], labels: np.ndarray) -> float:
    model.eval()
    right = 0
    for batch in sorted_batches([len(s) for s in ids], 256):
        padded, lengths = pad_batch([ids[i] for i in batch], PAD)
        right += int((model.forward(padded, lengths).argmax(axis=1) == labels[batch]).sum())
    model.train()
    return right / len(labels)


def run(data: Path, train_size: int | None = None, epochs: int = 3, seed: int = 0) -> dict:
    """Train on DATA's training sentences, report dev accuracy; return the figures."""
    train_words, train_labels = read_sst2(data / "stsa.binary.train", train_size)
    dev_words, dev_labels = read_sst2(data / "stsa.binary.dev")
    vocab = Vocabulary(train_words)
    train_ids = [vocab.encode(s) for s in train_words]
    dev_ids = [vocab.encode(s) for s in dev_words]
    print(f"{len(train_ids)} training and {len(dev_ids)} held-out sentences, {len(vocab)} words")

    model = BiLSTMClassifier(len(vocab), seed=seed)
    optimizer = Adam(model.params, model.grads, lr=2e-3)
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        losses = []
        for batch in bucket_batches([len(s) for s in train_ids], 32, rng):
            padded, lengths = pad_batch([train_ids[i] for i in batch], PAD)
            model.zero_grad()
            loss, grad = softmax_cross_entropy(model.forward(padded, lengths), train_labels[batch])
            model.backward(grad)
            clip_grad_norm(model.grads, 5.0)
            optimizer.step()
            losses.append(loss)
        dev = accuracy(model, dev_ids, dev_labels)
        print(f"epoch {epoch}  training loss {np.mean(losses):.3f}  held-out accuracy {dev:.1%}")
    majority = max(np.mean(dev_labels), 1 - np.mean(dev_labels))
    return {"accuracy": dev, "majority": float(majority)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SST2), help="the folder of stsa.binary.*")
    parser.add_argument("--train-size", type=int, help="use only the first N sentences")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    for name in ("stsa.binary.train", "stsa.binary.dev"):
        if not (Path(args.data) / name).is_file():
            parser.exit(
                2, f"sentiment.py: {args.data} holds no {name}; give --data SST-2's folder\n"
            )
    for flag, value in [("--epochs", args.epochs), ("--train-size", args.train_size)]:
        if value is not None and value < 1:
            parser.exit(2, f"sentiment.py: {flag} must be 1 or more, got {value}\n")
    print("A bidirectional LSTM reads each sentence and says: positive or negative?")
    result = run(Path(args.data), args.train_size, args.epochs)
    print(
        f"held-out accuracy {result['accuracy']:.1%}, against {result['majority']:.1%} for "
        "always answering the most common class"
    )


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
