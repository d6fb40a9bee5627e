"""One-to-many: surnames written for a language, through the command line.

    python -m benchmarks.generate [--threads 1] [--steps 10000] [--work DIR] [--quick]

The 20,074 surnames of 18 languages (``../shared/data/names_18lang``) are split 85/15 per
language (each language's names shuffled with seed 0, 15% held out), so every language is
in both parts in its own proportion. Everything is trained on the training part; every
setting is chosen on a validation part held out of it (``rnnkit train`` holds out a seeded
10% of the training texts), and the held-out 15% is read once at the end.

- Bits per character: a generator conditioned on the language (``--task generate`` on the
  folder of one file per language) against an unconditioned model of the same size
  trained for the same number of steps (the same task on the same names in one file: one
  category, so the bridge learns a single initial state and every step reads the same
  condition vector), both measured with ``rnnkit eval`` on the held-out names (each
  name's characters and its end). Equal steps stand for equal training time: on a shared
  machine a time budget buys each model as many steps as the other processes leave it,
  while a step costs the two models the same work (the same batch of the same names, the
  same layers); the wall time of each is reported beside. Target: conditioned at least
  10% lower.
- Recognisability: rnnkit's surname classifier, trained on the training part with
  ``--class-weights balanced`` (so that a language of 60 training names counts as much as
  one of 8,000), its architecture chosen among the ``CLASSIFIERS`` on validation balanced
  accuracy, classifies 100 names sampled per language at temperature 0.8; the figure is
  the share assigned to the language they were sampled for, averaged over the 18
  languages (target 70%), beside the same figure for the real held-out names (the
  classifier's ceiling on real names).
- Novelty: the share of sampled names that are not among the training names.

``--quick`` trains tiny models for a few steps: a smoke test of the whole path.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.timing import machine_header, set_threads
from rnnkit.cli.main import main as rnnkit
from rnnkit.data.classification import encode_texts
from rnnkit.data.conditioned_text import read_category_folder
from rnnkit.nn import lstm_fused
from rnnkit.train.classifier_evaluation import classify
from rnnkit.train.tasks.classifier import load_classifier
from rnnkit.train.tasks.generate import generate_texts, load_generator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "names_18lang"
SPLIT_SEED = 0
TEST_FRACTION = 0.15
SAMPLES = 100  # per language
TEMPERATURE = 0.8
TARGET_GAIN = 0.10  # conditioned bits per character at least this much lower
TARGET_RECOGNISED = 0.70

# The generators' candidate settings, compared on validation bits per character.
CANDIDATES = {
    "lstm128": "--hidden-size 128",
    "lstm256-drop0.3": "--hidden-size 256 --dropout 0.3",
    "lstm256-drop0.3-cond32": "--hidden-size 256 --dropout 0.3 --condition-size 32",
}
COMMON = ["--embedding-size", "32", "--batch-size", "32", "--lr", "0.002"]
COMMON += ["--eval-every", "500", "--seed", "0"]
# The classifiers' candidate settings, compared on validation balanced accuracy.
CLASSIFIERS = {
    "bigru128": "--hidden-size 128",
    "bigru128-ema": "--hidden-size 128 --ema 0.999",
    "bigru128-inputdrop": "--hidden-size 128 --embedding-dropout 0.2 --word-dropout 0.1",
}
CLASSIFIER_COMMON = [
    "--tokenizer", "char", "--model", "gru", "--bidirectional", "--pooling", "max",
    "--embedding-size", "32", "--dropout", "0.3", "--batch-size", "32", "--lr", "0.002",
    "--class-weights", "balanced", "--seed", "0",
]  # fmt: skip
CLASSIFIER_EPOCHS = 20
QUICK = {
    "steps": 20,
    "candidates": {"tiny": "--hidden-size 16"},
    "classifiers": {"tiny": "--hidden-size 16"},
    "epochs": 1,
}


def call(*argv: object) -> str:
    """Run ``rnnkit ARGV`` in this process; return its stdout."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        status = rnnkit([str(a) for a in argv])
    if status != 0:
        sys.exit(f"rnnkit {argv[0]} failed with status {status}")
    return captured.getvalue()


def write_split(work: Path) -> dict[str, dict[str, list[str]]]:
    """The per-language split, written as folders ``train``/``test`` of one file per
    language and ``train_all``/``test_all`` of one file (the same names, in the same
    order); returns ``{part: {language: names}}``."""
    data = read_category_folder(DATA)
    languages = data.categories
    split: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    for language in languages:
        names = [t for t, c in zip(data.texts, data.conditions, strict=True) if c == language]
        order = np.random.default_rng(SPLIT_SEED).permutation(len(names))
        held = int(round(TEST_FRACTION * len(names)))
        split["test"][language] = [names[i] for i in np.sort(order[:held])]
        split["train"][language] = [names[i] for i in np.sort(order[held:])]
    for part, by_language in split.items():
        everything = []
        for language, names in by_language.items():
            write_lines(work / part / f"{language}.txt", names)
            everything += names
        write_lines(work / f"{part}_all" / "All.txt", everything)
    print(
        f"surnames: {sum(map(len, split['train'].values())):,} training and "
        f"{sum(map(len, split['test'].values())):,} held-out names of {len(languages)} "
        f"languages (split per language, seed {SPLIT_SEED})",
        flush=True,
    )
    return split


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def train_run(command: list, out: Path, measure: str) -> dict:
    """Run ``rnnkit COMMAND --out OUT``; return the best model's validation figures with
    the run's ``steps`` and wall ``seconds`` (shared machine: other processes' load
    included)."""
    command = [*command, "--out", out]
    print("$ rnnkit " + " ".join(str(a) for a in command), flush=True)
    started = time.perf_counter()
    call(*command)
    seconds = time.perf_counter() - started
    progress = json.loads((out / "config.json").read_text())["progress"]
    best = {**progress["best"], "steps": progress["step"], "seconds": seconds}
    print(
        f"  best validation {measure} {best[measure]:.4f} at step {progress['best_step']} "
        f"of {progress['step']:,} ({seconds:.0f} s)",
        flush=True,
    )
    return best


def train_generator(train: Path, out: Path, flags: list[str], steps: int) -> dict:
    command = ["train", "--task", "generate", "--train", train, *flags, *COMMON]
    return train_run([*command, "--max-steps", steps], out, "bits_per_char")


def per_language_share(classifier, names: dict[str, list[str]]) -> dict[str, float]:
    """For each language, the share of NAMES[language] the classifier assigns to it (an
    empty name, which a generator may write, counts as not recognised)."""
    labels = classifier.labels.labels
    shares = {}
    for language, texts in names.items():
        readable = [text for text in texts if text.strip()]
        sequences, _ = encode_texts(classifier.tokenizer, readable)
        guessed = classify(classifier.model, sequences).argmax(axis=1)
        shares[language] = sum(labels[g] == language for g in guessed) / len(texts)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    parser.add_argument("--steps", type=int, default=10000, help="training steps per generator")
    parser.add_argument("--work", type=Path, help="keep the run folders here")
    parser.add_argument("--quick", action="store_true", help="tiny models, a few steps")
    args = parser.parse_args()
    limits = set_threads(args.threads)  # noqa: F841  (held for the whole run)
    lstm_fused.set_threads(args.threads)
    for line in machine_header():
        print(line)
    print("$ python -m benchmarks.generate " + " ".join(sys.argv[1:]), flush=True)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        run(args, args.work)
        return
    with tempfile.TemporaryDirectory(prefix="rnnkit-generate-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    steps = QUICK["steps"] if args.quick else args.steps
    candidates = QUICK["candidates"] if args.quick else CANDIDATES
    classifiers = QUICK["classifiers"] if args.quick else CLASSIFIERS
    split = write_split(work)
    started = time.perf_counter()

    # Settings: the candidate with the best validation bits per character (conditioned).
    validation = {
        name: train_generator(work / "train", work / f"cond-{name}", flags.split(), steps)
        for name, flags in candidates.items()
    }
    chosen = min(validation, key=lambda name: validation[name]["bits_per_char"])
    print(f"chosen on validation: {chosen} ({candidates[chosen]})", flush=True)
    uncond = work / "uncond"
    uncond_best = train_generator(work / "train_all", uncond, candidates[chosen].split(), steps)

    # (a) held-out bits per character.
    held_out = {}
    for label, folder, data in (
        ("conditioned", work / f"cond-{chosen}", work / "test"),
        ("unconditioned", uncond, work / "test_all"),
    ):
        held_out[label] = json.loads(call("eval", folder, "--data", data, "--json"))
    cond_bpc = held_out["conditioned"]["bits_per_char"]
    uncond_bpc = held_out["unconditioned"]["bits_per_char"]
    gain = 1 - cond_bpc / uncond_bpc

    # (b) recognisability, with the classifier trained (and chosen) on the training part.
    common = [*CLASSIFIER_COMMON, "--epochs", QUICK["epochs"] if args.quick else CLASSIFIER_EPOCHS]
    classifier_validation = {
        name: train_run(
            ["train-classifier", "--train", work / "train", *common, *flags.split()],
            work / f"classifier-{name}",
            "balanced_accuracy",
        )
        for name, flags in classifiers.items()
    }
    classifier_chosen = max(
        classifier_validation, key=lambda n: classifier_validation[n]["balanced_accuracy"]
    )
    print(f"classifier chosen on validation: {classifier_chosen}", flush=True)
    classifier = load_classifier(work / f"classifier-{classifier_chosen}" / "best")
    generator = load_generator(work / f"cond-{chosen}" / "best")
    rng = np.random.default_rng(0)
    sampled = {
        language: list(
            generate_texts(generator, i, SAMPLES, temperature=TEMPERATURE, length=40, rng=rng)
        )
        for i, language in enumerate(generator.categories)
    }
    recognised = per_language_share(classifier, sampled)
    ceiling = per_language_share(classifier, split["test"])

    # (c) novelty.
    training = {name for names in split["train"].values() for name in names}
    everything = [name for names in sampled.values() for name in names]
    novel = float(np.mean([name not in training for name in everything]))
    same_language = float(
        np.mean(
            [name not in set(split["train"][lang]) for lang, ns in sampled.items() for name in ns]
        )
    )

    print("\n--- results ---")
    print(
        "validation bits/char of the generators: "
        + ", ".join(f"{n} {m['bits_per_char']:.4f}" for n, m in validation.items())
        + f"; unconditioned ({chosen}) {uncond_best['bits_per_char']:.4f}"
    )
    cond_best = validation[chosen]
    print(
        f"(a) held-out bits per character: conditioned {cond_bpc:.4f}, unconditioned "
        f"{uncond_bpc:.4f} ({held_out['conditioned']['characters']:,} characters, "
        f"{held_out['conditioned']['texts']:,} names; {cond_best['steps']:,} and "
        f"{uncond_best['steps']:,} steps, {cond_best['seconds']:.0f} s and "
        f"{uncond_best['seconds']:.0f} s of wall time on a shared machine): {gain:.1%} "
        f"lower; target {TARGET_GAIN:.0%}: {'met' if gain >= TARGET_GAIN else 'NOT met'}"
    )
    print(
        "    validation balanced accuracy of the classifiers: "
        + ", ".join(
            f"{n} {m['balanced_accuracy']:.2%} (accuracy {m['accuracy']:.2%})"
            for n, m in classifier_validation.items()
        )
        + f"; chosen {classifier_chosen}"
    )
    mean_recognised = float(np.mean(list(recognised.values())))
    mean_ceiling = float(np.mean(list(ceiling.values())))
    print(
        f"(b) recognisability: {mean_recognised:.1%} of {SAMPLES} sampled names per language "
        f"(temperature {TEMPERATURE}) classified as their language, mean of "
        f"{len(recognised)}; real held-out names {mean_ceiling:.1%} (ceiling); target "
        f"{TARGET_RECOGNISED:.0%}: {'met' if mean_recognised >= TARGET_RECOGNISED else 'NOT met'}"
    )
    print(
        "    per language (sampled / held-out): "
        + ", ".join(f"{lang} {recognised[lang]:.0%}/{ceiling[lang]:.0%}" for lang in recognised)
    )
    print(
        f"(c) novelty: {novel:.1%} of the {len(everything):,} sampled names are not among the "
        f"training names ({same_language:.1%} not among their own language's)"
    )
    print(
        "    examples: " + "; ".join(f"{lang}: {', '.join(sampled[lang][:4])}" for lang in sampled)
    )
    print(f"total wall time {(time.perf_counter() - started) / 60:.1f} min (shared machine)")


if __name__ == "__main__":
    main()
