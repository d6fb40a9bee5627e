"""``rnnkit train-classifier``: train a sequence classifier on labelled texts.

A fresh run reads ``--train`` (and ``--valid``, or holds out a seeded ``--val-fraction`` of
the training examples), builds the tokenizer and the label list from the training
examples, and trains until ``--max-steps``, ``--epochs`` or ``--max-time`` (two minutes
when none is given). ``--resume`` continues the run in ``--out`` exactly: everything but
the budget comes from its checkpoint, and flags given again must agree with it. With
``--test``, the best model is measured on the test examples at the end.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from rnnkit.cli.arguments import (
    add_budget_arguments,
    add_ema_argument,
    add_optimizer_arguments,
    add_run_arguments,
    non_negative_float,
    non_negative_int,
    positive_int,
    probability,
)
from rnnkit.cli.training import (
    INTERRUPTED_STATUS,
    check_flags_match,
    fingerprint,
    locked_run_folder,
    new_run_folder,
    restore_run,
    resumed_run_folder,
    train_in_foreground,
)
from rnnkit.data.classification import (
    FORMATS,
    LabelledTexts,
    LabelVocabulary,
    encode_labelled_texts,
    read_labelled_texts,
    split_off,
)
from rnnkit.data.embeddings_file import read_word_vectors
from rnnkit.data.length_buckets import CHUNK_BATCHES
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import SequenceClassifier
from rnnkit.models.sequence_classifier import ENCODERS, POOLINGS
from rnnkit.train import Budget, ProgressBar, stop_on_interrupt
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.classifier_checkpoint import check_classifier_checkpoint, load_classifier
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.classifier_trainer import (
    PLATEAU_MEASURES,
    ClassifierSettings,
    ClassifierTrainer,
)
from rnnkit.train.encoder_pretraining import pretrain_encoder
from rnnkit.train.lm_checkpoint import model_folder
from rnnkit.train.progress import format_duration
from rnnkit.train.run_lock import hold_run_lock

NAME = "train-classifier"
DEFAULT_SECONDS = 120
TOKENIZERS = ("word", "char")
MAX_DEFAULT_EVAL_EVERY = 1000  # steps; by default a run validates once per epoch, or this

# The values of a fresh run for the flags not given (a resumed run takes its checkpoint's).
DEFAULTS: dict[str, Any] = {
    "format": "auto",
    "label_col": None,
    "text_col": None,
    "encoding": "utf-8",
    "tokenizer": "word",
    "max_vocab": None,
    "min_count": None,
    "val_fraction": 0.1,
    "model": "lstm",
    "embedding_size": 64,
    "hidden_size": 128,
    "num_layers": 1,
    "dropout": 0.0,
    "embedding_dropout": 0.0,
    "word_dropout": 0.0,
    "bidirectional": False,
    "pooling": "last",
    "batch_size": 32,
    "optimizer": "adam",
    "weight_decay": 0.0,
    "ema": 0.0,
    "clip": 5.0,
    "eval_every": None,
    "seed": 0,
    "pretrain_epochs": 0,
    "adversarial": 0.0,
    "plateau_on": "accuracy",
    "plateau_patience": 2,
}
DEFAULT_LR = {"adam": 2e-3, "sgd": 0.1}

# Where config.json keeps each flag's value, to hold a resume's flags against.
SAVED_AS: dict[str, tuple[str, str]] = {
    "train": ("data", "train"),
    "valid": ("data", "valid"),
    "format": ("data", "format"),
    "label_col": ("data", "label_col"),
    "text_col": ("data", "text_col"),
    "encoding": ("data", "encoding"),
    "val_fraction": ("data", "val_fraction"),
    "embeddings": ("data", "embeddings"),
    "tokenizer": ("tokenizer", "kind"),
    "max_vocab": ("tokenizer", "max_vocab"),
    "min_count": ("tokenizer", "min_count"),
    "model": ("model", "cell"),
    "embedding_size": ("model", "embedding_size"),
    "hidden_size": ("model", "hidden_size"),
    "num_layers": ("model", "num_layers"),
    "dropout": ("model", "dropout"),
    "embedding_dropout": ("model", "embedding_dropout"),
    "word_dropout": ("model", "word_dropout"),
    "bidirectional": ("model", "bidirectional"),
    "pooling": ("model", "pooling"),
    "batch_size": ("settings", "batch_size"),
    "lr": ("settings", "lr"),
    "optimizer": ("settings", "optimizer"),
    "weight_decay": ("settings", "weight_decay"),
    "ema": ("settings", "ema"),
    "clip": ("settings", "clip"),
    "eval_every": ("settings", "eval_every"),
    "seed": ("settings", "seed"),
    "pretrain_epochs": ("settings", "pretrain_epochs"),
    "adversarial": ("settings", "adversarial"),
    "plateau_on": ("settings", "plateau_on"),
    "plateau_patience": ("settings", "plateau_patience"),
}
PATH_FLAGS = ("train", "valid", "embeddings")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="train a sequence classifier on labelled texts",
        description="Train a recurrent classifier: each text is read to its end, then "
        "given one label. Batches group texts of similar length, and padding never "
        "changes a result.",
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", metavar="PATH", help="training examples (a file or a folder)")
    data.add_argument(
        "--valid",
        metavar="PATH",
        help="validation examples (default: a seeded --val-fraction of --train)",
    )
    data.add_argument("--test", metavar="PATH", help="test examples, measured at the end")
    data.add_argument(
        "--format",
        choices=FORMATS,
        help="tsv/csv: label and text columns; label-first: '<label> <text>' lines; "
        "folders: one file per class named after it, one example per line (default auto: "
        "from the path)",
    )
    data.add_argument(
        "--label-col",
        metavar="COLUMN",
        help="tsv/csv: the label column's header name (default 'label'), or its number "
        "counting from 1 for a file without a header line",
    )
    data.add_argument(
        "--text-col",
        metavar="COLUMN",
        help="tsv/csv: the text column's header name (default 'text'), or its number",
    )
    data.add_argument("--encoding", help="the files' encoding (default utf-8; TREC needs latin-1)")
    data.add_argument(
        "--tokenizer",
        choices=TOKENIZERS,
        help="word: whitespace-separated words; char: characters (default word)",
    )
    data.add_argument(
        "--max-vocab", type=positive_int, help="word tokenizer: keep the N most frequent words"
    )
    data.add_argument(
        "--min-count", type=positive_int, help="word tokenizer: words seen fewer times are <unk>"
    )
    data.add_argument(
        "--val-fraction",
        type=probability,
        help="without --valid: the share of --train held out for validation (default 0.1)",
    )
    data.add_argument(
        "--embeddings",
        metavar="FILE",
        help="initialise the word embeddings from vectors in GloVe/word2vec text format "
        "(the embedding size becomes the vectors' size)",
    )

    model = parser.add_argument_group("model")
    model.add_argument("--model", choices=sorted(ENCODERS), help="recurrent layer (default lstm)")
    model.add_argument("--embedding-size", type=positive_int, help="default 64")
    model.add_argument("--hidden-size", type=positive_int, help="default 128")
    model.add_argument("--num-layers", type=positive_int, help="default 1")
    model.add_argument(
        "--bidirectional",
        action="store_true",
        default=None,
        help="read each text in both directions",
    )
    model.add_argument(
        "--pooling",
        choices=POOLINGS,
        help="what the classifier sees: the final states (last), the mean or maximum of "
        "the outputs over the text, or both side by side (mean-max) (default last)",
    )
    model.add_argument(
        "--dropout",
        type=probability,
        help="before the classifier and between layers (default 0)",
    )
    model.add_argument(
        "--embedding-dropout",
        type=probability,
        help="on the embedded words or characters, before the encoder (default 0)",
    )
    model.add_argument(
        "--word-dropout",
        type=probability,
        help="drop whole tokens (their embedded vectors) before the encoder (default 0)",
    )

    training = parser.add_argument_group("training")
    training.add_argument("--batch-size", type=positive_int, help="examples per step (default 32)")
    add_optimizer_arguments(
        training,
        lr_help="default 0.002 with adam, 0.1 with sgd",
        eval_every_help=f"default: once per epoch, at most {MAX_DEFAULT_EVAL_EVERY}",
    )
    training.add_argument(
        "--plateau-on",
        choices=PLATEAU_MEASURES,
        help="the validation measure whose plateau halves the learning rate (default "
        "accuracy; loss moves more smoothly on a small validation set). The best model is "
        "still the one with the highest validation accuracy",
    )
    training.add_argument(
        "--plateau-patience",
        type=non_negative_int,
        metavar="N",
        help="halve the learning rate after more than N validations in a row without "
        "improvement (default 2)",
    )
    add_ema_argument(training)
    training.add_argument(
        "--pretrain-epochs",
        type=non_negative_int,
        metavar="N",
        help="first train the embedding and encoder for N epochs as a language model on "
        "the training texts (next token, and with --bidirectional previous token), then "
        "classify (default 0: no pretraining)",
    )
    training.add_argument(
        "--adversarial",
        type=non_negative_float,
        metavar="EPSILON",
        help="adversarial training: each step also trains on each text's embedded tokens "
        "moved by EPSILON times their norm in the direction that raises its loss most, "
        "e.g. 0.03 (default 0: off)",
    )
    training.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="stop after N passes over the training examples (sets --max-steps)",
    )
    add_budget_arguments(training, DEFAULT_SECONDS)
    add_run_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    # One writer per run folder, locked before anything is written into it.
    with hold_run_lock(locked_run_folder(args, "classifier")):
        return train_locked(args)


def train_locked(args: argparse.Namespace) -> int:
    if args.resume:
        trainer, budget, test = resume_run(args)
    else:
        trainer, budget, test = start_run(args)
        if trainer.settings.pretrain_epochs:
            if not pretrain(trainer):
                print(
                    "rnnkit: interrupted while pretraining the encoder, before anything was "
                    "saved; run the command again to start over",
                    file=sys.stderr,
                )
                return INTERRUPTED_STATUS
            # The classification budget starts now: --max-time counts its steps only.
            budget = Budget(budget.max_steps, budget.max_time)
    status = train_in_foreground(trainer, budget, NAME, "--max-steps, --epochs or --max-time")
    if status is not None:
        return status
    progress = trainer.progress
    reason = budget.exhausted(progress.step)
    print(
        f"stopped at step {progress.step}, {progress.epoch} full "
        f"epoch{'' if progress.epoch == 1 else 's'} ({reason}) after "
        f"{format_duration(budget.elapsed)}"
    )
    if progress.best is not None:
        print(
            f"validation accuracy {progress.val['accuracy']:.2%}; best "
            f"{progress.best['accuracy']:.2%} at step {progress.best_step}"
        )
    folder = trainer.folder
    best = model_folder(folder)
    print(f"saved in {folder}" + (f" (best model in {best})" if best != folder else ""))
    if test is not None:
        report_test(best, test)
    return 0


def pretrain(trainer: ClassifierTrainer) -> bool:
    """Pretrain TRAINER's encoder as a language model; False if Ctrl-C stopped it."""
    settings = trainer.settings
    epochs = settings.pretrain_epochs
    total_steps = epochs * batches_per_epoch(len(trainer.train_set), settings.batch_size)
    print(
        f"pretraining the embedding and encoder as a language model for {epochs} "
        f"epoch{'' if epochs == 1 else 's'} ({total_steps:,} steps)",
        flush=True,
    )
    clock = Budget(total_steps)  # for the bar's time left; pretraining stops on its own
    record: dict[str, Any] = {"epochs": epochs}
    tokens_read = 0

    with stop_on_interrupt() as stop:
        bar = ProgressBar(total_steps)

        def on_step(step: int, loss: float, tokens: int) -> None:
            nonlocal tokens_read
            tokens_read += tokens
            elapsed = max(clock.elapsed, 1e-9)
            bar.update(step, loss, tokens_read / elapsed, clock.eta(step, elapsed / step))

        def on_epoch(epoch: int, train_loss: float, valid_loss: float) -> None:
            bar.write(
                f"pretraining epoch {epoch}/{epochs}: training loss {train_loss:.4f}, "
                f"validation loss {valid_loss:.4f} (perplexity {math.exp(valid_loss):.1f})"
            )
            record.update(train_loss=train_loss, valid_loss=valid_loss)

        try:
            finished = pretrain_encoder(
                trainer.model,
                trainer.train_set.sequences,
                trainer.valid_set.sequences,
                epochs,
                settings.batch_size,
                settings.lr,
                settings.clip,
                settings.seed,
                stop,
                on_step,
                on_epoch,
            )
        finally:
            bar.close()
    record["seconds"] = round(clock.elapsed, 1)
    trainer.info["pretraining"] = record
    if finished:
        print(f"pretraining done in {format_duration(record['seconds'])}", flush=True)
    return finished


def report_test(folder: Path, test: LabelledTexts) -> None:
    """Measure the model in FOLDER on the TEST examples, in one line."""
    trained = load_classifier(folder)
    encoded, _ = encode_labelled_texts(test, trained.tokenizer, trained.labels, "--test")
    _, report = evaluate_classifier(trained.model, encoded, trained.labels.labels)
    print(
        f"test accuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.4f} "
        f"({report['examples']} examples)"
    )


# -- data ---------------------------------------------------------------------------------------


def read_examples(data_info: dict[str, Any], path: str) -> LabelledTexts:
    return read_labelled_texts(
        path,
        data_info["format"],
        data_info["label_col"],
        data_info["text_col"],
        data_info["encoding"],
    )


def read_train_valid(data_info: dict[str, Any], seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """The training and validation examples the run's data settings describe."""
    train = read_examples(data_info, data_info["train"])
    if data_info["valid"] is not None:
        return train, read_examples(data_info, data_info["valid"])
    return split_off(train, data_info["val_fraction"], seed)


def examples_fingerprint(*sets: LabelledTexts) -> str:
    """A digest of the examples, to check that a resumed run reads the same ones."""
    return fingerprint(
        "\n".join(
            f"{label}\t{text}"
            for data in sets
            for label, text in zip(data.labels, data.texts, strict=True)
        )
    )


# -- a fresh run ----------------------------------------------------------------------------------


def start_run(args: argparse.Namespace) -> tuple[ClassifierTrainer, Budget, Any]:
    options = {
        name: default if getattr(args, name) is None else getattr(args, name)
        for name, default in DEFAULTS.items()
    }
    if args.train is None:
        raise UserError("--train PATH is needed: the labelled examples to learn from")
    if args.valid is not None and args.val_fraction is not None:
        raise UserError("--val-fraction holds out part of --train; give it or --valid, not both")
    folder = new_run_folder(args.out, "classifier")
    data_info = {
        "train": absolute(args.train),
        "valid": absolute(args.valid),
        "test": absolute(args.test),
        **{k: options[k] for k in ("format", "label_col", "text_col", "encoding")},
        "val_fraction": None if args.valid is not None else options["val_fraction"],
        "embeddings": absolute(args.embeddings),
    }
    train, valid = read_train_valid(data_info, options["seed"])
    test = None if args.test is None else read_examples(data_info, data_info["test"])
    data_info["sha256"] = examples_fingerprint(train, valid)
    # A held-out part is still part of --train: a class whose few examples all fell into
    # it is a class of the data set all the same.
    held_out = valid.labels if args.valid is None else []
    labels = LabelVocabulary.fit(train.labels + held_out, args.train)
    if test is not None:  # refuse a test file with unknown labels now, not after training
        labels.encode(test.labels, args.test)
    tokenizer = fit_tokenizer(options, train)

    vectors = None
    if args.embeddings is not None:
        vectors, found = read_word_vectors(args.embeddings, tokenizer.vocab)
        if args.embedding_size is not None and args.embedding_size != vectors.shape[1]:
            raise UserError(
                f"--embedding-size {args.embedding_size} differs from the {vectors.shape[1]} "
                f"numbers per vector in {args.embeddings}; drop --embedding-size"
            )
        options["embedding_size"] = vectors.shape[1]
    model = SequenceClassifier(
        tokenizer.vocab_size,
        len(labels),
        embedding_size=options["embedding_size"],
        hidden_size=options["hidden_size"],
        num_layers=options["num_layers"],
        cell=options["model"],
        bidirectional=options["bidirectional"],
        pooling=options["pooling"],
        dropout=options["dropout"],
        embedding_dropout=options["embedding_dropout"],
        word_dropout=options["word_dropout"],
        rng=options["seed"],
    )
    if vectors is not None:
        model.params["embedding.weight"][: tokenizer.vocab_size][found] = vectors[found]
        print(
            f"embeddings: {int(found.sum()):,} of {tokenizer.vocab_size:,} vocabulary entries "
            f"found in {args.embeddings}; the others start random"
        )

    steps_per_epoch = batches_per_epoch(len(train), options["batch_size"])
    settings = ClassifierSettings(
        batch_size=options["batch_size"],
        lr=args.lr if args.lr is not None else DEFAULT_LR[options["optimizer"]],
        optimizer=options["optimizer"],
        weight_decay=options["weight_decay"],
        ema=options["ema"],
        clip=options["clip"],
        eval_every=options["eval_every"] or min(steps_per_epoch, MAX_DEFAULT_EVAL_EVERY),
        seed=options["seed"],
        pretrain_epochs=options["pretrain_epochs"],
        adversarial=options["adversarial"],
        plateau_on=options["plateau_on"],
        plateau_patience=options["plateau_patience"],
    )
    if options["pretrain_epochs"] and model.bidirectional and model.num_layers > 1:
        raise UserError(
            "--pretrain-epochs needs --num-layers 1 with --bidirectional: in a stacked "
            "bidirectional encoder the upper layers see the token each direction predicts"
        )
    run_info = budget_info(args, steps_per_epoch)
    trainer = make_trainer(
        model, tokenizer, labels, train, valid, settings, folder, data_info, run_info
    )
    direction = "bidirectional " if model.bidirectional else ""
    print(
        f"training a {model.num_layers}-layer {direction}{model.cell.upper()} classifier "
        f"({model.pooling} pooling, hidden size {model.hidden_size}, "
        f"{model.num_parameters():,} parameters; time loops in {model.encoder.engine}) on "
        f"{len(train):,} training and "
        f"{len(valid):,} validation examples of {len(labels)} classes; "
        f"{tokenizer.kind} vocabulary of {tokenizer.vocab_size:,}"
    )
    print(f"run folder: {folder}", flush=True)
    return trainer, Budget(run_info["max_steps"], run_info["max_time"]), test


def absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def fit_tokenizer(options: dict[str, Any], train: LabelledTexts) -> Tokenizer:
    tokenizer_options = {
        name: options[name] for name in ("max_vocab", "min_count") if options[name] is not None
    }
    if tokenizer_options and options["tokenizer"] != "word":
        raise UserError("--max-vocab and --min-count apply to --tokenizer word only")
    return make_tokenizer(options["tokenizer"], **tokenizer_options).fit("\n".join(train.texts))


def batches_per_epoch(num_examples: int, batch_size: int) -> int:
    """How many batches ``bucket_batches`` cuts NUM_EXAMPLES into (the same every epoch)."""
    chunk = batch_size * CHUNK_BATCHES
    full, rest = divmod(num_examples, chunk)
    return full * CHUNK_BATCHES + -(-rest // batch_size)


def budget_info(args: argparse.Namespace, steps_per_epoch: int) -> dict[str, Any]:
    """``max_steps`` and ``max_time`` from ``--max-steps``, ``--epochs`` and ``--max-time``."""
    if args.epochs is not None and args.max_steps is not None:
        raise UserError("--epochs sets --max-steps; give one of them, not both")
    max_steps = args.max_steps
    if args.epochs is not None:
        max_steps = args.epochs * steps_per_epoch
    max_time = args.max_time
    if max_steps is None and max_time is None:
        max_time = DEFAULT_SECONDS
    return {"max_steps": max_steps, "max_time": max_time}


def make_trainer(
    model: SequenceClassifier,
    tokenizer: Tokenizer,
    labels: LabelVocabulary,
    train: LabelledTexts,
    valid: LabelledTexts,
    settings: ClassifierSettings,
    folder: Path,
    data_info: dict[str, Any],
    run_info: dict[str, Any],
) -> ClassifierTrainer:
    """The trainer of a fresh or a resumed run, on the encoded examples."""
    train_set, _ = encode_labelled_texts(train, tokenizer, labels, data_info["train"])
    valid_source = data_info["valid"] or "the held-out validation examples"
    valid_set, skipped = encode_labelled_texts(valid, tokenizer, labels, valid_source)
    if skipped:
        print(f"{skipped} validation characters not seen in training are left out")
    info = {"data": data_info, "run": run_info}
    return ClassifierTrainer(
        model, tokenizer, labels.labels, train_set, valid_set, settings, folder, info
    )


# -- a resumed run --------------------------------------------------------------------------------


def resume_run(args: argparse.Namespace) -> tuple[ClassifierTrainer, Budget, Any]:
    folder = resumed_run_folder(args.out)
    checkpoint = load_checkpoint(folder)
    check_classifier_checkpoint(checkpoint, folder)
    config = checkpoint.config
    check_flags_match(args, config, folder, SAVED_AS, PATH_FLAGS, DEFAULTS)

    data_info = config["data"]
    settings = ClassifierSettings(**config["settings"])
    train, valid = read_train_valid(data_info, settings.seed)
    if examples_fingerprint(train, valid) != data_info["sha256"]:
        raise UserError(
            f"the examples of {data_info['train']} have changed since the run in {folder} "
            "started; resuming needs the same examples, so start a new run instead"
        )
    test_path = args.test or data_info["test"]
    test = None if test_path is None else read_examples(data_info, test_path)
    if test is not None:
        LabelVocabulary(config["labels"]).encode(test.labels, test_path)
    run_info = dict(config["run"])
    if args.max_steps is not None or args.max_time is not None or args.epochs is not None:
        run_info = budget_info(args, batches_per_epoch(len(train), settings.batch_size))
    trainer = make_trainer(
        SequenceClassifier(**config["model"], rng=settings.seed),
        tokenizer_from_dict(config["tokenizer"]),
        LabelVocabulary(config["labels"]),
        train,
        valid,
        settings,
        folder,
        data_info,
        run_info,
    )
    restore_run(trainer, checkpoint, folder)
    budget = Budget(run_info["max_steps"], run_info["max_time"], trainer.progress.elapsed)
    return trainer, budget, test
