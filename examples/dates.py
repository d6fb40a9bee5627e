"""Dates with attention: an encoder-decoder learns to write "september 27, 1994" as "1994-09-27".

The toy problem of "Deep Learning from Scratch 2", chapter 8. Dates come written in many
ways ("2/10/93", "Saturday, July 18, 1970", "14 Oct 2001"); the answer is always ISO's
"YYYY-MM-DD". Without attention the decoder sees the question only through the encoder's
final state, one vector for the whole date. With attention, at each output step it looks
back over every encoder output and takes a weighted mean of them, the weights from how
well each one matches its own state (Luong's general score):

    score(h_t, m_s) = h_t^T W_a m_s,    a_t = softmax_s(score),    c_t = sum_s a_ts m_s
    output_t = W_o tanh(W_c [c_t ; h_t])

so writing the year it can read the year's characters directly. The weights ``a_t`` are
the picture this example draws (``--png``): the output characters down the side, the
question's along the bottom, each row where the decoder looked while writing that
character.

Two variants, the book's comparison (section 8.4), both with a bidirectional GRU encoder:

    no attention   the decoder starts from the encoder's final states and reads nothing else
    attention      the same, and each step attends over the encoder's outputs

The data is the book's ``date.txt`` (50,000 dates, shuffled with seed 1984 as the book's
``sequence.load_data`` does, the last 10% held out), or, when that file is absent, as many
dates made up here in a dozen formats.

    python examples/dates.py --png attention.png   # 20-25 s a variant on one core
    python examples/dates.py --quick               # smaller: about 30 s in all

(times on one core of an AMD EPYC Zen 3, AVX2 loops)

Measured once (the book's data, ``--threads 1``, seed 0), held-out exact match after 2
epochs: no attention 0.0% (it writes the same date for every question), attention 100.0%
(13.2% after the first). The picture of that run is not the book's diagonal: with a
bidirectional encoder each output already holds its neighbours' characters, so the
decoder wrote the year "1994" of "10/15/94" looking at the first character, whose
backward half has read the whole date, and the month at the first "/".
"""

from __future__ import annotations

import argparse
import datetime
import time
from pathlib import Path

import numpy as np

from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.length_buckets import pad_batch
from rnnkit.data.parallel import book_split, read_parallel
from rnnkit.data.parallel_batches import PAD_ID, Vocabulary, batches
from rnnkit.errors import UserError
from rnnkit.models.beam_search import Hypothesis, greedy_search
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.optim import Adam, clip_grad_norm
from rnnkit.threads import limit_threads
from rnnkit.train.figures import pyplot, save_figure
from rnnkit.train.seq2seq_metrics import exact_match

DATES = Path(__file__).resolve().parents[2] / "shared/data/dlfs2_seq2seq/date.txt"
VARIANTS = {"no attention": "none", "attention": "general"}
ANSWER_LENGTH = 10  # "1994-09-27"
# --quick, and the test: 64 hidden units, 30,000 of the 45,000 training dates and 1,000 of
# the 5,000 held out, 3 epochs (attention takes off after 700-1,000 steps of 64 dates).
QUICK = {"epochs": 3, "hidden_size": 64, "train_size": 30_000, "test_size": 1_000, "lr": 3e-3}
FORMATS = [
    "%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%A, %B %d, %Y", "%a, %b %d, %Y",
    "%m/%d/%y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%B %d %Y", "%d %B, %Y",
]  # fmt: skip


def made_up_dates(count: int = 50_000, seed: int = 0) -> tuple[list[str], list[str]]:
    """COUNT dates from 1900 to 2049, each written in one of FORMATS (lower case half the
    time), and their ISO forms."""
    rng = np.random.default_rng(seed)
    first = datetime.date(1900, 1, 1).toordinal()
    days = rng.integers(first, datetime.date(2049, 12, 31).toordinal() + 1, size=count)
    written, iso = [], []
    for day, style, lower in zip(
        days.tolist(),
        rng.integers(len(FORMATS), size=count).tolist(),
        rng.random(count) < 0.5,
        strict=True,
    ):
        date = datetime.date.fromordinal(day)
        text = date.strftime(FORMATS[style])
        written.append(text.lower() if lower else text)
        iso.append(date.isoformat())
    return written, iso


def load_dates(path: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """``(train questions, train answers, test questions, test answers)``, split as the book."""
    if path.is_file():
        pairs = read_parallel(path, "dlfs2")  # "2/10/93     _1993-02-10" -> pair
        questions, answers = pairs.sources, pairs.targets
        print(f"{len(questions)} dates from {path}")
    else:
        questions, answers = made_up_dates()
        print(f"{path} not found: {len(questions)} dates made up instead")
    return book_split(questions, answers)  # shuffled with the book's seed, the last tenth held out


def answer(model: Seq2Seq, vocab: Vocabulary, questions: list[str]) -> list[Hypothesis]:
    """The model's greedy answers (the likeliest character at each step), in batches; each
    with its attention weights (steps, question length) when the model attends."""
    found = []
    for start in range(0, len(questions), 500):
        ids = [vocab.encode(list(q)) for q in questions[start : start + 500]]
        src, lengths = pad_batch(ids, PAD_ID)
        found.extend(greedy_search(model, src, lengths, max_length=ANSWER_LENGTH + 1))
    return found


def train_variant(
    name: str,
    data: tuple[list[str], list[str], list[str], list[str]],
    epochs: int,
    hidden_size: int,
    seed: int,
    lr: float = 3e-3,
) -> tuple[Seq2Seq, Vocabulary, list[float]]:
    """Train one variant, printing held-out exact match after each epoch; return the model,
    its vocabulary and the exact match of each epoch."""
    train_q, train_a, test_q, test_a = data
    # One vocabulary of characters for both sides (letters, digits, punctuation, "-").
    vocab = Vocabulary.build(list(text) for text in train_q + train_a)
    sources = [vocab.encode(list(q)) for q in train_q]
    targets = [vocab.encode(list(a)) for a in train_a]
    config = Seq2SeqConfig(
        source_vocab_size=len(vocab), target_vocab_size=len(vocab), share_vocabulary=True,
        embedding_size=16, hidden_size=hidden_size, cell="gru", bidirectional=True,
        attention=VARIANTS[name],
    )  # fmt: skip
    model = Seq2Seq.from_config(config, rng=seed)
    optimizer = Adam(model.params, model.grads, lr=lr)
    rng = np.random.default_rng(seed)
    references = [[list(a)] for a in test_a]

    print(f"\n--- {name} ---")
    scores = []
    for epoch in range(1, epochs + 1):
        started, losses = time.perf_counter(), []
        for batch in batches(sources, targets, 64, rng):
            model.zero_grad()
            losses.append(model.loss_and_backward(*batch.arrays()))
            clip_grad_norm(model.grads, 5.0)
            optimizer.step()
        outputs = ["".join(vocab.decode(h.tokens)) for h in answer(model, vocab, test_q)]
        scores.append(exact_match([list(o) for o in outputs], references))
        print(
            f"epoch {epoch:2d}  loss {np.mean(losses):.3f}  held-out exact match "
            f"{scores[-1]:6.1%}  ({time.perf_counter() - started:.1f} s)"
        )
    for question, right, given in list(zip(test_q, test_a, outputs, strict=True))[:4]:
        mark = "right" if given == right else f"wrong, {right}"
        print(f"    {question:>30} -> {given}  ({mark})")
    return model, vocab, scores


def draw_attention(model: Seq2Seq, vocab: Vocabulary, question: str, path: Path) -> None:
    """The attention weights of the model's answer to QUESTION, drawn into PATH."""
    found = answer(model, vocab, [question])[0]
    written = vocab.decode(found.tokens) + (["</s>"] if found.finished else [])
    plt = pyplot("--png")
    figure, axes = plt.subplots(figsize=(0.3 * len(question) + 2, 0.3 * len(written) + 1.5))
    axes.imshow(found.attention[: len(written)], cmap="Greys", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(question)), list(question))
    axes.set_yticks(range(len(written)), written)
    axes.set_xlabel("question")
    axes.set_ylabel("answer")
    figure.tight_layout()
    save_figure(figure, path)
    print(f"attention of {question!r} -> {''.join(written[:ANSWER_LENGTH])!r} drawn in {path}")


def run(
    path: Path = DATES,
    epochs: int = 2,
    hidden_size: int = 96,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    lr: float = 3e-3,
    png: Path | None = None,
) -> dict[str, float]:
    """Train both variants; return each one's final held-out exact match (and draw the
    attention variant's weights for the first held-out date into PNG, if given).

    TRAIN_SIZE and TEST_SIZE use only the first dates of the book's split.
    """
    train_q, train_a, test_q, test_a = load_dates(path)
    data = (train_q[:train_size], train_a[:train_size], test_q[:test_size], test_a[:test_size])
    print(f"training on {len(data[0])} dates, {len(data[2])} held out; e.g. "
          f"{data[0][0]!r} -> {data[1][0]!r}")  # fmt: skip
    results = {}
    for name in VARIANTS:
        model, vocab, scores = train_variant(name, data, epochs, hidden_size, seed, lr)
        results[name] = scores[-1]
    if png is not None:
        draw_attention(model, vocab, data[2][0], png)  # the last variant: attention
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATES), help="the book's date.txt")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--png", type=Path, help="draw the attention of one held-out date here")
    parser.add_argument("--threads", type=int, help="BLAS and C-loop threads (default: all)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['hidden_size']} hidden units, {QUICK['train_size']:,} training dates, "
        f"{QUICK['epochs']} epochs",
    )
    args = parser.parse_args()
    for flag, value in [("--epochs", args.epochs), ("--threads", args.threads)]:
        if value is not None and value < 1:
            parser.exit(2, f"dates.py: {flag} must be 1 or more, got {value}\n")
    if args.png is not None:
        try:  # before training, not after it
            pyplot("--png")
        except UserError as error:
            parser.exit(2, f"dates.py: {error}\n")
    print("A GRU encoder-decoder learns to write dates as ISO dates, with and without attention.")
    settings = dict(QUICK) if args.quick else {"epochs": args.epochs}
    with limit_threads(args.threads):
        result = run(Path(args.data), seed=args.seed, png=args.png, **settings)
    print()
    for name, score in result.items():
        print(f"{name:>12}: held-out exact match {score:.1%}")


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
