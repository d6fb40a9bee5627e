"""One-to-many: surnames written for a language, through the command line.

    python -m benchmarks.generate [--threads 1] [--steps 10000] [--work DIR] [--quick]
                                  [--sample-seed 0] [--folds K [--fold-classifiers NAME ...]]

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
  one of 8,000), classifies 100 names sampled per language at temperature 0.8; the figure
  is the share assigned to the language they were sampled for, averaged over the 18
  languages (target 70%), beside the same figure for the real held-out names (the
  classifier's ceiling on real names). The classifier is chosen on validation among each
  of the ``CLASSIFIERS`` alone and the ensemble of all of them (their softmax
  probabilities averaged), by the class-balanced validation cross-entropy
  (``balanced_cross_entropy``): a language of 60 training names has about 6 validation
  names, so its validation accuracy moves in steps of 17 points and cannot separate
  candidates, while its names' log-probabilities still measure how sure and how right
  each candidate is. The chosen classifier (each member of the ensemble, if the ensemble
  is chosen) is then trained again on the whole training part (``--val-fraction 0``: the
  validation 10% added back) for the full epochs its run had trained when it reached its
  best validation model, and that refit (the last model; the average with ``--ema``)
  classifies: the standard refit after a choice on validation, decided before any figure
  was seen. The refit has no validation of its own, so it cannot lower the learning rate
  on a plateau: it trains at the starting rate throughout, as every candidate did up to
  its best model unless a plateau came first. The figures before the refit are printed
  beside, for comparison only. ``--sample-seed`` draws another 100 names per language
  (a second sample of the same generator: the 1,800 names give the mean a standard
  error of about 1.1 points).

  ``--folds K`` adds the k-fold alternative, reported beside and chosen by nothing but
  its own out-of-fold measure: the training part dealt into K folds per language (seed
  ``SEED``), each classifier trained on each K-1 folds (its best model chosen on the
  fold left out), each candidate (alone, and all as one ensemble) measured by
  ``balanced_cross_entropy`` on the out-of-fold probabilities of every training name
  (about ten times the validation names of one hold-out), and the chosen candidate's
  fold models averaged into one classifier. ``--fold-classifiers`` limits the
  classifiers trained on the folds. The refit above stays the benchmark's protocol: it
  was decided before either figure was seen.
- Novelty: the share of sampled names that are not among the training names.

``--quick`` trains tiny models for a few steps: a smoke test of the whole path. With
``--work DIR``, a run folder that a previous run in DIR finished (the same command, up to
its last step or epoch) is reused rather than trained again.
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
from rnnkit.data.classification import encode_texts, read_labelled_texts
from rnnkit.data.conditioned_text import read_category_folder
from rnnkit.nn import lstm_fused
from rnnkit.nn.losses import softmax
from rnnkit.train.classifier_evaluation import classify
from rnnkit.train.tasks.classifier import TrainedClassifier, load_classifier
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
SEED = 0  # every run's seed, hence also its validation share
COMMON += ["--eval-every", "500", "--seed", SEED]
COMMON += ["--stop-lr-ratio", "0"]  # every run trains to its budget, as measured
# The classifiers' candidate settings: each alone and all of them as one ensemble are
# compared on the class-balanced validation cross-entropy.
CLASSIFIERS = {
    "bigru128": "--hidden-size 128",
    "bigru128-ema": "--hidden-size 128 --ema 0.999",
    "bigru128-inputdrop": "--hidden-size 128 --embedding-dropout 0.2 --word-dropout 0.1",
    "bigru128x2-ema": "--hidden-size 128 --num-layers 2 --ema 0.999",
    "bigru256x2-ema": "--hidden-size 256 --num-layers 2 --ema 0.999",
}
ENSEMBLE = "ensemble"  # the name of the candidate that averages all the classifiers
VALIDATION_FRACTION = 0.1  # what ``rnnkit train-classifier`` holds out by default
CLASSIFIER_COMMON = [
    "--tokenizer", "char", "--model", "gru", "--bidirectional", "--pooling", "max",
    "--embedding-size", "32", "--dropout", "0.3", "--batch-size", "32", "--lr", "0.002",
    "--class-weights", "balanced", "--seed", SEED, "--stop-lr-ratio", "0",
]  # fmt: skip
CLASSIFIER_EPOCHS = 20
QUICK = {
    "steps": 20,
    "candidates": {"tiny": "--hidden-size 16"},
    "classifiers": {"tiny": "--hidden-size 16", "tiny-ema": "--hidden-size 16 --ema 0.9"},
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


def finished(out: Path) -> bool:
    """Whether OUT holds a run that reached its last step (``max_steps``) or epoch."""
    if not (out / "config.json").exists() or not (out / "best").exists():
        return False
    saved = json.loads((out / "config.json").read_text())
    training, progress = saved["config"]["training"], saved["progress"]
    if training.get("max_steps") is not None:
        return progress["step"] >= training["max_steps"]
    return training.get("epochs") is not None and progress["epoch"] >= training["epochs"]


def train_run(command: list, out: Path, measure: str | None) -> dict:
    """Run ``rnnkit COMMAND --out OUT``, or reuse OUT when a previous run finished it;
    return the best model's validation figures (none for a run without validation,
    MEASURE None) with the run's ``steps`` and wall ``seconds`` (shared machine: other
    processes' load included; NaN when reused)."""
    command = [*command, "--out", out]
    print("$ rnnkit " + " ".join(str(a) for a in command), flush=True)
    seconds = float("nan")
    if finished(out):
        print(f"  reusing the finished run in {out}", flush=True)
    else:
        started = time.perf_counter()
        call(*command)
        seconds = time.perf_counter() - started
    progress = json.loads((out / "config.json").read_text())["progress"]
    best = {**(progress["best"] or {}), "steps": progress["step"], "seconds": seconds}
    if measure is None:
        print(f"  no validation: {progress['step']:,} steps ({wall(seconds)})", flush=True)
    else:
        print(
            f"  best validation {measure} {best[measure]:.4f} at step "
            f"{progress['best_step']} of {progress['step']:,} ({wall(seconds)})",
            flush=True,
        )
    return best


def wall(seconds: float) -> str:
    """SECONDS as ``"N s"``, or ``"reused"`` for a run reused from a previous one (NaN)."""
    return "reused" if np.isnan(seconds) else f"{seconds:.0f} s"


def train_generator(train: Path, out: Path, flags: list[str], steps: int) -> dict:
    command = ["train", "--task", "generate", "--train", train, *flags, *COMMON]
    return train_run([*command, "--max-steps", steps], out, "bits_per_char")


def probabilities(classifiers: list[TrainedClassifier], texts: list[str]) -> np.ndarray:
    """The ensemble's class probabilities ``(len(texts), K)`` of TEXTS: the mean over
    CLASSIFIERS of each one's softmax, ``p(c | x) = (1/M) sum_m softmax(z_m(x))_c`` (one
    classifier: its own softmax). The classifiers must share their class labels."""
    labels = classifiers[0].labels.labels
    total = np.zeros((len(texts), len(labels)))
    for classifier in classifiers:
        if classifier.labels.labels != labels:
            raise ValueError("the classifiers of an ensemble must have the same labels")
        sequences, _ = encode_texts(classifier.tokenizer, texts)
        total += softmax(classify(classifier.model, sequences).astype(np.float64), axis=1)
    return total / len(classifiers)


def balanced_cross_entropy(probs: np.ndarray, targets: np.ndarray) -> float:
    """The class-balanced cross-entropy of PROBS ``(N, K)`` for TARGETS ``(N,)``: each
    class's mean negative log-probability of its own examples, averaged over the classes
    present, ``(1/K') sum_c (1/n_c) sum_{i: y_i = c} -log p_i[c]``; the loss the
    class-weighted training minimises, measured with each class weighing the same."""
    picked = -np.log(np.maximum(probs[np.arange(len(targets)), targets], 1e-300))
    return float(np.mean([picked[targets == c].mean() for c in np.unique(targets)]))


def balanced_accuracy(probs: np.ndarray, targets: np.ndarray) -> float:
    """The mean over the classes present of each class's recall under PROBS' argmax."""
    right = probs.argmax(axis=1) == targets
    return float(np.mean([right[targets == c].mean() for c in np.unique(targets)]))


def reads(classifier: TrainedClassifier, text: str) -> bool:
    """Whether TEXT has a character CLASSIFIER's tokenizer saw in training."""
    return bool(set(text.strip()) - set(classifier.tokenizer.unknown_tokens(text)))


def per_language_share(
    classifiers: list[TrainedClassifier], names: dict[str, list[str]]
) -> dict[str, float]:
    """For each language, the share of NAMES[language] the ensemble of CLASSIFIERS assigns
    to it (a name some classifier cannot read, such as an empty one, which a generator may
    write, or one of characters only a fold left out had, counts as not recognised)."""
    labels = classifiers[0].labels.labels
    shares = {}
    for language, texts in names.items():
        readable = [text for text in texts if all(reads(c, text) for c in classifiers)]
        guessed = probabilities(classifiers, readable).argmax(axis=1)
        shares[language] = sum(labels[g] == language for g in guessed) / len(texts)
    return shares


def mean_share(classifiers: list[TrainedClassifier], names: dict[str, list[str]]) -> float:
    """``per_language_share`` averaged over the languages."""
    return float(np.mean(list(per_language_share(classifiers, names).values())))


def choose_classifier(
    work: Path, names: list[str]
) -> tuple[str, list[TrainedClassifier], dict[str, dict[str, float]]]:
    """Among each of the classifiers NAMES (run folders ``classifier-NAME`` in WORK) alone
    and all of them as one ensemble, the one with the lowest class-balanced cross-entropy
    on the validation names their training held out (the same seeded share of the same
    training part for every one); returns its name, its classifiers, and every
    candidate's validation ``balanced_cross_entropy`` and ``balanced_accuracy``."""
    _, valid = read_labelled_texts(work / "train").hold_out(VALIDATION_FRACTION, SEED)
    loaded = {name: load_classifier(work / f"classifier-{name}" / "best") for name in names}
    labels = loaded[names[0]].labels.labels
    targets = np.array([labels.index(label) for label in valid.labels])
    options = {name: [classifier] for name, classifier in loaded.items()}
    if len(names) > 1:
        options[ENSEMBLE] = list(loaded.values())
    probs = {name: probabilities(members, valid.texts) for name, members in options.items()}
    chosen, measured = lowest_cross_entropy(probs, targets)
    return chosen, options[chosen], measured


def lowest_cross_entropy(
    probs: dict[str, np.ndarray], targets: np.ndarray
) -> tuple[str, dict[str, dict[str, float]]]:
    """The candidate whose PROBS (``{name: (N, K) probabilities}`` of the same names)
    give TARGETS the lowest ``balanced_cross_entropy``, and every candidate's
    ``balanced_cross_entropy`` and ``balanced_accuracy``."""
    measured = {
        name: {
            "balanced_cross_entropy": balanced_cross_entropy(p, targets),
            "balanced_accuracy": balanced_accuracy(p, targets),
        }
        for name, p in probs.items()
    }
    return min(measured, key=lambda n: measured[n]["balanced_cross_entropy"]), measured


def candidate_measures(measured: dict[str, dict[str, float]]) -> str:
    """Each candidate's ``balanced_cross_entropy`` (``balanced_accuracy``), for a report."""
    return ", ".join(
        f"{n} {m['balanced_cross_entropy']:.4f} ({m['balanced_accuracy']:.2%})"
        for n, m in measured.items()
    )


def best_epoch(run: Path) -> int:
    """The full epochs RUN had trained when it reached its best validation model."""
    return int(json.loads((run / "best" / "config.json").read_text())["progress"]["epoch"])


def refit_classifiers(
    work: Path, names: list[str], flags: dict[str, str], common: list
) -> list[TrainedClassifier]:
    """The classifiers NAMES trained again on the whole training part (``--val-fraction
    0``: the validation share added back), each with its settings FLAGS[name] and COMMON
    for the full epochs its run in WORK had trained when it reached its best validation
    model (run folders ``refit-NAME``; the last model, the average with ``--ema``, is
    kept)."""
    refitted = []
    for name in names:
        epochs = best_epoch(work / f"classifier-{name}")
        out = work / f"refit-{name}"
        command = ["train-classifier", "--train", work / "train", *common, "--epochs", epochs]
        train_run([*command, *flags[name].split(), "--val-fraction", 0], out, None)
        refitted.append(load_classifier(out / "best"))
    return refitted


def write_folds(work: Path, train: dict[str, list[str]], folds: int) -> list[Path]:
    """FOLDS folds of the training part TRAIN (``{language: names}``), stratified by
    language: each language's names shuffled with seed ``SEED`` and dealt out in turn.
    Fold k is written as ``folds<FOLDS>/<k>/train`` (the other folds) and ``.../valid``
    (fold k), one file per language; returns the fold folders."""
    root = work / f"folds{folds}"
    places = [root / str(k) for k in range(folds)]
    for language, names in train.items():
        order = np.random.default_rng(SEED).permutation(len(names))
        fold_of = np.empty(len(names), dtype=int)
        fold_of[order] = np.arange(len(names)) % folds
        for k, place in enumerate(places):
            write_lines(
                place / "valid" / f"{language}.txt",
                [n for n, f in zip(names, fold_of, strict=True) if f == k],
            )
            write_lines(
                place / "train" / f"{language}.txt",
                [n for n, f in zip(names, fold_of, strict=True) if f != k],
            )
    return places


def choose_by_folds(
    places: list[Path], flags: dict[str, str], epochs: int
) -> tuple[str, list[TrainedClassifier], dict[str, dict[str, float]]]:
    """K-fold choice: each classifier of FLAGS trained on each fold's ``train`` (its best
    model chosen on the fold's ``valid``, as a run with ``--valid`` does), every candidate
    (each alone, and all of them as one ensemble) measured on the out-of-fold
    probabilities of every training name, by ``balanced_cross_entropy``. Returns the
    chosen candidate's name, its classifiers on every fold (the final classifier: their
    probabilities averaged), and each candidate's out-of-fold measures."""
    names = list(flags)
    # Candidate by candidate, so that the runs of the first few serve a later, shorter
    # --fold-classifiers list as they are (reused).
    trained = {name: [] for name in names}
    for name in names:
        for place in places:
            out = place / f"classifier-{name}"
            command = [
                "train-classifier",
                "--train",
                place / "train",
                "--valid",
                place / "valid",
                *CLASSIFIER_COMMON,
                "--epochs",
                epochs,
            ]
            train_run([*command, *flags[name].split()], out, "balanced_accuracy")
            trained[name].append(load_classifier(out / "best"))
    probs: dict[str, list[np.ndarray]] = {name: [] for name in names}
    targets = []
    for k, place in enumerate(places):
        valid = read_labelled_texts(place / "valid")
        for name in names:
            probs[name].append(probabilities([trained[name][k]], valid.texts))
        labels = trained[names[0]][k].labels.labels
        targets.append(np.array([labels.index(label) for label in valid.labels]))
    target = np.concatenate(targets)
    options = {name: np.concatenate(probs[name]) for name in names}
    members = {name: trained[name] for name in names}
    if len(names) > 1:
        options[ENSEMBLE] = np.mean([options[name] for name in names], axis=0)
        members[ENSEMBLE] = [c for name in names for c in trained[name]]
    chosen, measured = lowest_cross_entropy(options, target)
    return chosen, members[chosen], measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads (default 1)")
    parser.add_argument("--steps", type=int, default=10000, help="training steps per generator")
    parser.add_argument("--work", type=Path, help="keep the run folders here")
    parser.add_argument("--quick", action="store_true", help="tiny models, a few steps")
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        metavar="K",
        help="the k-fold alternative: classifiers chosen on out-of-fold cross-entropy, "
        "the final one the ensemble of the fold models (default 0: off)",
    )
    parser.add_argument(
        "--fold-classifiers",
        nargs="+",
        metavar="NAME",
        help="with --folds: the classifiers to train on the folds (default: all)",
    )
    parser.add_argument(
        "--sample-seed", type=int, default=0, help="seed of the sampled names (default 0)"
    )
    args = parser.parse_args()
    classifiers = QUICK["classifiers"] if args.quick else CLASSIFIERS
    unknown = set(args.fold_classifiers or []) - set(classifiers)
    if unknown:
        print(
            f"--fold-classifiers: no classifier {', '.join(sorted(unknown))}; choose among "
            f"{', '.join(classifiers)}",
            file=sys.stderr,
        )
        sys.exit(2)
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
    epochs = QUICK["epochs"] if args.quick else CLASSIFIER_EPOCHS
    classifier_validation = {
        name: train_run(
            ["train-classifier", "--train", work / "train", *CLASSIFIER_COMMON,
             "--epochs", epochs, *flags.split()],
            work / f"classifier-{name}",
            "balanced_accuracy",
        )
        for name, flags in classifiers.items()
    }  # fmt: skip
    classifier_chosen, validated, chosen_on = choose_classifier(work, list(classifiers))
    print(f"classifier chosen on validation: {classifier_chosen}", flush=True)
    members = list(classifiers) if classifier_chosen == ENSEMBLE else [classifier_chosen]
    classifier = refit_classifiers(work, members, classifiers, CLASSIFIER_COMMON)
    generator = load_generator(work / f"cond-{chosen}" / "best")
    rng = np.random.default_rng(args.sample_seed)
    sampled = {
        language: list(
            generate_texts(generator, i, SAMPLES, temperature=TEMPERATURE, length=40, rng=rng)
        )
        for i, language in enumerate(generator.categories)
    }
    recognised = per_language_share(classifier, sampled)
    ceiling = per_language_share(classifier, split["test"])
    by_folds = None
    if args.folds:
        places = write_folds(work, split["train"], args.folds)
        fold_flags = {n: classifiers[n] for n in args.fold_classifiers or classifiers}
        fold_chosen, fold_classifier, fold_measured = choose_by_folds(places, fold_flags, epochs)
        fold_figures = [mean_share(fold_classifier, names) for names in (sampled, split["test"])]
        by_folds = (fold_chosen, fold_measured, fold_figures)
    # The same figures with the chosen classifiers as validation chose them (trained on
    # 90% of the training part), to show what the refit changes; not a choice.
    before_refit = [mean_share(validated, names) for names in (sampled, split["test"])]

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
        f"{uncond_best['steps']:,} steps, {wall(cond_best['seconds'])} and "
        f"{wall(uncond_best['seconds'])} of wall time on a shared machine): {gain:.1%} "
        f"lower; target {TARGET_GAIN:.0%}: {'met' if gain >= TARGET_GAIN else 'NOT met'}"
    )
    print(
        "    validation of the classifiers' best models (balanced accuracy, accuracy): "
        + ", ".join(
            f"{n} {m['balanced_accuracy']:.2%}, {m['accuracy']:.2%}"
            for n, m in classifier_validation.items()
        )
    )
    print(
        "    class-balanced validation cross-entropy (balanced accuracy) of the candidates: "
        + candidate_measures(chosen_on)
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
        f"    the classifier{'s' if len(members) > 1 else ''} refitted on the whole training "
        f"part for the epochs of {'their' if len(members) > 1 else 'its'} best validation "
        "model ("
        + ", ".join(f"{n} {best_epoch(work / f'classifier-{n}')}" for n in members)
        + f"); before the refit (as validated, trained on {1 - VALIDATION_FRACTION:.0%} of "
        f"it): {before_refit[0]:.1%} sampled, {before_refit[1]:.1%} real; sampling seed "
        f"{args.sample_seed}"
    )
    if by_folds is not None:
        fold_chosen, fold_measured, fold_figures = by_folds
        print(
            f"(b, {args.folds}-fold) out-of-fold class-balanced cross-entropy (balanced "
            "accuracy) of the candidates: "
            + candidate_measures(fold_measured)
            + f"; chosen {fold_chosen}; its fold models' ensemble: {fold_figures[0]:.1%} "
            f"sampled, {fold_figures[1]:.1%} real held-out names"
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
