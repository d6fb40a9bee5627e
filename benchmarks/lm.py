"""Language-model quality: Tiny Shakespeare (characters) and the Penn Treebank (words).

    python -m benchmarks.lm {shakespeare,ptb} [--quick] [--threads 1] [--seed 0] [--work DIR]

``shakespeare`` runs the command line, ``rnnkit train`` on
``../shared/data/tinyshakespeare/input.txt`` with ``--val-fraction 0.1``: the first 90% of
the characters train, the last 10% validate (nanoGPT's split). A 2-layer LSTM trains for
30 minutes (``--max-time 1800``). It reports the best validation loss in nats per
character, when the loss first reached the target (1.55), and ``rnnkit eval`` of the best
model on the validation text.

``ptb`` is the "small" configuration of Zaremba et al. (2014), through the library because
its schedule and initialisation are not command-line options: 2 x 200 LSTM, embeddings of
200, no dropout, batches of 20 streams x 20 steps, plain SGD for 13 epochs, learning rate
1 halved at the start of every epoch after the 4th, gradient norm clipped at 5, every
weight drawn uniformly from (-0.1, 0.1). Zaremba's loss is summed over the 20 steps and
averaged over the batch; rnnkit's is averaged over all 400 positions, 20 times smaller,
so the same SGD steps are learning rate 20 and clipping at norm 0.25. The vocabulary is the
10,000 words of the training file (``<unk>`` and ``<eos>`` included). It reports the
validation perplexity after each epoch and the test perplexity of the model with the best
validation perplexity (each of the two streams read as one, from a zero state); target 116.

``--quick`` trains a tiny model for a few steps: a smoke test of the whole path, not a
figure. ``--threads`` sets the BLAS thread pool (default 2, the two cores of the targets;
on a machine busy with other work, OpenBLAS threads that wait for each other can make a
step several times slower, and ``--threads 1`` is the better choice).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.classify import call
from benchmarks.timing import machine_header, set_threads
from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.data.tokenizers import WordTokenizer
from rnnkit.models import LanguageModel
from rnnkit.train import Budget, LMSettings, LMTrainer, ProgressBar, evaluate_language_model
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.run_config import model_folder
from rnnkit.train.tasks.language_model import (
    LanguageModelData,
    LanguageModelRun,
    load_language_model,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAKESPEARE = DATA / "tinyshakespeare" / "input.txt"
PTB = DATA / "ptb"

SHAKESPEARE_FLAGS = [
    "--tokenizer", "char", "--val-fraction", "0.1",
    "--model", "lstm", "--num-layers", "2", "--embedding-size", "64", "--hidden-size", "256",
    "--dropout", "0.2", "--seq-len", "100", "--batch-size", "32",
    "--optimizer", "adam", "--lr", "0.002", "--clip", "5",
    "--eval-every", "500", "--max-time", "1800", "--stop-lr-ratio", "0",
]  # fmt: skip
SHAKESPEARE_QUICK = ["--num-layers", "1", "--hidden-size", "32", "--max-steps", "20",
                     "--eval-every", "10"]  # fmt: skip
SHAKESPEARE_TARGET = 1.55  # nats per character

PTB_TARGET = 116.0  # test perplexity; Zaremba et al. report 115.9
PTB_EPOCHS = 13
PTB_QUICK_LINES = 2000  # of each file
TEST_SEQ_LEN = 500  # windows of the single stream read at test time


def verdict(met: bool, quick: bool) -> str:
    if quick:
        return "not measured (--quick)"
    return "met" if met else "NOT met"


def shakespeare(quick: bool, seed: int, work: Path) -> None:
    if not SHAKESPEARE.is_file():
        sys.exit(f"Tiny Shakespeare not found at {SHAKESPEARE}")
    out = work / "shakespeare"
    flags = [*SHAKESPEARE_FLAGS, *(SHAKESPEARE_QUICK if quick else [])]
    command = ["train", "--data", SHAKESPEARE, *flags, "--seed", seed, "--out", out]
    print("$ rnnkit " + " ".join(str(a) for a in command), flush=True)
    started = time.perf_counter()
    call(*command)
    wall = time.perf_counter() - started

    text = SHAKESPEARE.read_text(encoding="utf-8")
    validation = work / "shakespeare-validation.txt"
    # The characters split_train_val keeps for validation: the last 10%.
    validation.write_text(text[int(len(text) * 0.9) :], encoding="utf-8")
    report = json.loads(call("eval", out, "--data", validation, "--json").splitlines()[-1])

    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if "val_loss" in r]
    reached = next((r for r in evaluations if r["val_loss"] <= SHAKESPEARE_TARGET), None)
    progress = json.loads((out / "config.json").read_text())["progress"]
    when = (
        f"first at step {reached['step']} after {reached['elapsed'] / 60:.1f} min"
        if reached
        else "never"
    )
    print(
        f"\nshakespeare: {progress['step']:,} steps, {progress['epoch']} epochs, wall time "
        f"{wall / 60:.1f} min; best validation loss {progress['best']['loss']:.4f} nats/char "
        f"(step {progress['best_step']}); rnnkit eval of the best model: {report['loss']:.4f} "
        f"over {report['tokens']:,} characters; <= {SHAKESPEARE_TARGET}: {when}; target "
        f"{verdict(reached is not None, quick)}"
    )


def read_ptb(split: str, quick: bool) -> str:
    with gzip.open(PTB / f"ptb.{split}.txt.gz", "rt", encoding="utf-8") as file:
        text = file.read()
    if quick:
        text = "".join(text.splitlines(keepends=True)[:PTB_QUICK_LINES])
    return text


def ptb(quick: bool, seed: int, work: Path) -> None:
    if not (PTB / "ptb.train.txt.gz").is_file():
        sys.exit(f"the Penn Treebank files were not found in {PTB}")
    tokenizer = WordTokenizer().fit(read_ptb("train", quick))
    train_ids, valid_ids, test_ids = (
        tokenizer.encode(read_ptb(split, quick)) for split in ("train", "valid", "test")
    )
    size = 16 if quick else 200
    model = LanguageModel(
        tokenizer.vocab_size, size, size, num_layers=2, cell="lstm", init_range=0.1, rng=seed
    )
    epoch_steps = StreamBatcher(train_ids, batch_size=20, seq_len=20).num_windows
    settings = LMSettings(
        batch_size=20,
        seq_len=20,
        optimizer="sgd",
        lr=20.0,  # = Zaremba's 1 for a loss summed over the 20 steps
        clip=0.25,  # = Zaremba's 5, likewise
        eval_every=epoch_steps,  # validate at the end of every epoch
        decay_after_epoch=4,
        epoch_decay=0.5,
    )
    trainer = LMTrainer(model, tokenizer, train_ids, valid_ids, settings, work / "ptb")
    # Saved as a language-model run, so the best model loads like any other.
    trainer.run_config = LanguageModelRun(
        LanguageModelData(data=str(PTB), tokenizer="word"), model.config(), settings
    )
    epochs = 1 if quick else PTB_EPOCHS
    print(
        f"ptb: vocabulary {tokenizer.vocab_size:,}; {len(train_ids):,} / {len(valid_ids):,} / "
        f"{len(test_ids):,} training / validation / test tokens; {epochs} epochs of "
        f"{epoch_steps:,} steps; {model.num_parameters():,} parameters; settings {settings}",
        flush=True,
    )
    budget = Budget(max_steps=epochs * epoch_steps)
    bar = ProgressBar(budget.max_steps)
    started = time.perf_counter()
    try:
        trainer.train(budget, bar=bar)
    finally:
        bar.close()
    wall = time.perf_counter() - started

    best_folder = model_folder(trainer.folder)
    best, _, _ = load_language_model(best_folder)
    progress = load_checkpoint(best_folder).config["progress"]
    results = {}
    for name, ids in (("validation", valid_ids), ("test", test_ids)):
        loss, tokens = evaluate_language_model(best, ids, batch_size=1, seq_len=TEST_SEQ_LEN)
        results[name] = (math.exp(loss), tokens)
    test_perplexity = results["test"][0]
    print(
        f"\nptb: wall time {wall / 60:.1f} min ({wall / epochs / 60:.1f} min per epoch); best "
        f"model after epoch {progress['epoch']} (step {progress['step']:,}); "
        f"validation perplexity {results['validation'][0]:.1f}, test perplexity "
        f"{test_perplexity:.1f} over {results['test'][1]:,} tokens; target <= {PTB_TARGET}: "
        f"{verdict(test_perplexity <= PTB_TARGET, quick)}"
    )


TASKS = {"shakespeare": shakespeare, "ptb": ptb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--quick", action="store_true", help="a few steps of a tiny model")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work", type=Path, help="keep the run folders here (default: a temporary folder)"
    )
    args = parser.parse_args()
    limits = set_threads(args.threads)  # noqa: F841 (the limit holds while this lives)
    print("\n".join([*machine_header(), f"BLAS threads: {args.threads}"]), flush=True)
    with contextlib.ExitStack() as stack:
        work = args.work or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix=f"rnnkit-{args.task}-"))
        )
        work.mkdir(parents=True, exist_ok=True)
        TASKS[args.task](args.quick, args.seed, work)


if __name__ == "__main__":
    main()
