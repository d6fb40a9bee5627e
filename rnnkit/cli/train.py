"""``rnnkit train``: train a language model on a text file or folder, or on Python's sources.

A fresh run reads and tokenizes the text, cuts off the last ``--val-fraction`` for
validation, and trains until ``--max-steps`` or ``--max-time`` (two minutes by default).
``--resume`` continues the run in ``--out`` exactly: the architecture, tokenizer, data and
settings come from its checkpoint, and any of those flags given again must agree with it;
only the budget (``--max-steps``, ``--max-time``) may change. The run ends by printing a
sample from the best model.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.cli.arguments import (
    add_budget_arguments,
    add_ema_argument,
    add_optimizer_arguments,
    add_run_arguments,
    positive_int,
    probability,
)
from rnnkit.cli.sample import write_sample
from rnnkit.cli.training import (  # INTERRUPTED_STATUS: re-exported, train_classifier uses it
    INTERRUPTED_STATUS,  # noqa: F401
    check_flags_match,
    fingerprint,
    locked_run_folder,
    new_run_folder,
    restore_run,
    resumed_run_folder,
    train_in_foreground,
)
from rnnkit.data.default_corpus import DEFAULT_CORPUS_NAME, default_corpus_text
from rnnkit.data.lm_batches import split_train_val
from rnnkit.data.text import read_text
from rnnkit.data.tokenizers import TOKENIZERS, make_tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.models.language_model import RECURRENT_LAYERS
from rnnkit.train import Budget, LMSettings, LMTrainer
from rnnkit.train.checkpoint import load_checkpoint
from rnnkit.train.lm_checkpoint import (
    check_language_model_checkpoint,
    load_language_model,
    model_folder,
)
from rnnkit.train.lm_evaluation import describe_measures
from rnnkit.train.progress import format_duration
from rnnkit.train.run_lock import hold_run_lock

NAME = "train"
DEFAULT_SECONDS = 120
# Of the default corpus: a two-minute run sees about a million characters, and a bigger
# validation part would only make each evaluation slower.
DEFAULT_CORPUS_CHARS = 1_000_000
SAMPLE_LENGTH = 300
SAMPLE_TEMPERATURE = 0.8

# The values of a fresh run for the flags not given (a resumed run takes its checkpoint's).
DEFAULTS: dict[str, Any] = {
    "tokenizer": "char",
    "max_vocab": None,
    "min_count": None,
    "model": "lstm",
    "embedding_size": 64,
    "hidden_size": 256,
    "num_layers": 1,
    "dropout": 0.0,
    "tie_weights": False,
    "seq_len": 64,
    "batch_size": 32,
    "optimizer": "adam",
    "weight_decay": 0.0,
    "ema": 0.0,
    "clip": 5.0,
    "eval_every": 500,
    "val_fraction": 0.1,
    "seed": 0,
    "encoding": "utf-8",
}
DEFAULT_LR = {"adam": 2e-3, "sgd": 1.0}

# Where config.json keeps each flag's value, to hold a resume's flags against.
SAVED_AS: dict[str, tuple[str, str]] = {
    "tokenizer": ("tokenizer", "kind"),
    "max_vocab": ("tokenizer", "max_vocab"),
    "min_count": ("tokenizer", "min_count"),
    "model": ("model", "cell"),
    "embedding_size": ("model", "embedding_size"),
    "hidden_size": ("model", "hidden_size"),
    "num_layers": ("model", "num_layers"),
    "dropout": ("model", "dropout"),
    "tie_weights": ("model", "tie_weights"),
    "seq_len": ("settings", "seq_len"),
    "batch_size": ("settings", "batch_size"),
    "lr": ("settings", "lr"),
    "optimizer": ("settings", "optimizer"),
    "weight_decay": ("settings", "weight_decay"),
    "ema": ("settings", "ema"),
    "clip": ("settings", "clip"),
    "eval_every": ("settings", "eval_every"),
    "data": ("data", "path"),
    "encoding": ("data", "encoding"),
    "val_fraction": ("data", "val_fraction"),
    "seed": ("run", "seed"),
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME,
        help="train a language model on a text file or folder",
        description="Train a recurrent language model with truncated backpropagation "
        "through time. With no --data it trains a small character LSTM on the Python "
        "standard library's own sources for two minutes, then prints a sample.",
        epilog="The run folder holds the last checkpoint (config.json, model.safetensors "
        "under PyTorch's parameter names, optimizer.safetensors, hidden_state.safetensors), "
        "the best model so far in DIR/best, metrics.jsonl and learning_curve.png (with "
        "matplotlib). Ctrl-C saves a checkpoint and stops; --resume continues it exactly. "
        "Use the run with: rnnkit sample DIR, rnnkit eval DIR --data PATH.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="PATH",
        help="a UTF-8 text file, or a folder of them (default: the Python standard library's "
        f"sources, first {DEFAULT_CORPUS_CHARS:,} characters)",
    )
    data.add_argument("--encoding", help="the text's encoding (default utf-8)")
    data.add_argument(
        "--tokenizer",
        choices=sorted(TOKENIZERS),
        help="char: characters; word: words, <eos> per line; jamo: characters with Korean "
        "syllables split into jamo (default char)",
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
        help="the last part of the text kept for validation (default 0.1; 0: none)",
    )

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", choices=sorted(RECURRENT_LAYERS), help="recurrent layer (default lstm)"
    )
    model.add_argument("--embedding-size", type=positive_int, help="default 64")
    model.add_argument("--hidden-size", type=positive_int, help="default 256")
    model.add_argument("--num-layers", type=positive_int, help="default 1")
    model.add_argument(
        "--dropout", type=probability, help="between layers and before the decoder (default 0)"
    )
    model.add_argument(
        "--tie-weights",
        action="store_true",
        default=None,
        help="share the embedding table with the decoder (needs embedding size = hidden size)",
    )

    training = parser.add_argument_group("training")
    training.add_argument("--seq-len", type=positive_int, help="steps per window (default 64)")
    training.add_argument(
        "--batch-size", type=positive_int, help="streams read side by side (default 32)"
    )
    add_optimizer_arguments(
        training, lr_help="default 0.002 with adam, 1 with sgd", eval_every_help="default 500"
    )
    add_ema_argument(training)
    add_budget_arguments(training, DEFAULT_SECONDS)
    add_run_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    # One writer per run folder, locked before anything is written into it.
    with hold_run_lock(locked_run_folder(args, "lm")):
        return train_locked(args)


def train_locked(args: argparse.Namespace) -> int:
    trainer, budget = resume_run(args) if args.resume else start_run(args)
    status = train_in_foreground(trainer, budget, NAME)
    if status is not None:
        return status
    folder, progress = trainer.folder, trainer.progress
    reason = budget.exhausted(progress.step)
    print(f"stopped at step {progress.step} ({reason}) after {format_duration(budget.elapsed)}")
    if progress.best is not None:
        print(
            f"validation {describe_measures(progress.val)}; best "
            f"{describe_measures(progress.best)} at step {progress.best_step}"
        )
    best = model_folder(folder)
    print(f"saved in {folder}" + (f" (best model in {best})" if best != folder else ""))
    model, tokenizer, _ = load_language_model(best)
    print(f"--- sample (temperature {SAMPLE_TEMPERATURE}) ---", flush=True)
    write_sample(model, tokenizer, SAMPLE_LENGTH, temperature=SAMPLE_TEMPERATURE, seed=0)
    return 0


# -- a fresh run ------------------------------------------------------------------------------


def start_run(args: argparse.Namespace) -> tuple[LMTrainer, Budget]:
    options = {
        name: default if getattr(args, name) is None else getattr(args, name)
        for name, default in DEFAULTS.items()
    }
    lr = args.lr if args.lr is not None else DEFAULT_LR[options["optimizer"]]
    if options["tie_weights"] and options["embedding_size"] != options["hidden_size"]:
        raise UserError(
            "--tie-weights needs --embedding-size equal to --hidden-size, got "
            f"{options['embedding_size']} and {options['hidden_size']}"
        )
    if options["ema"] > 0 and options["val_fraction"] == 0:
        # Only validation puts the average to use: it is what best/ keeps.
        raise UserError("--ema needs validation text: give --val-fraction above 0")
    folder = new_run_folder(args.out, "lm")
    data_info = {
        "path": None if args.data is None else str(Path(args.data).resolve()),
        "encoding": options["encoding"],
        "val_fraction": options["val_fraction"],
    }
    if args.data is None:
        data_info.update(corpus=DEFAULT_CORPUS_NAME, max_chars=DEFAULT_CORPUS_CHARS)
    text = read_data(data_info)
    data_info["sha256"] = fingerprint(text)

    tokenizer_options = {
        name: options[name] for name in ("max_vocab", "min_count") if options[name] is not None
    }
    tokenizer = make_tokenizer(options["tokenizer"], **tokenizer_options).fit(text)
    train_ids, val_ids = split_train_val(tokenizer.encode(text), options["val_fraction"])
    settings = LMSettings(
        batch_size=options["batch_size"],
        seq_len=options["seq_len"],
        lr=lr,
        optimizer=options["optimizer"],
        weight_decay=options["weight_decay"],
        ema=options["ema"],
        clip=options["clip"],
        eval_every=options["eval_every"],
    )
    check_one_window(len(train_ids), settings, describe_source(data_info))
    model = LanguageModel(
        tokenizer.vocab_size,
        embedding_size=options["embedding_size"],
        hidden_size=options["hidden_size"],
        num_layers=options["num_layers"],
        cell=options["model"],
        dropout=options["dropout"],
        tie_weights=options["tie_weights"],
        rng=options["seed"],
    )
    max_steps, max_time = args.max_steps, args.max_time
    if max_steps is None and max_time is None:
        max_time = DEFAULT_SECONDS
    run_info = {"seed": options["seed"], "max_steps": max_steps, "max_time": max_time}
    trainer = LMTrainer(
        model, tokenizer, train_ids, val_ids, settings, folder, {"data": data_info, "run": run_info}
    )
    print(
        f"training a {model.num_layers}-layer {model.cell.upper()} (hidden size "
        f"{model.hidden_size}, {model.num_parameters():,} parameters; time loops in "
        f"{model.rnn.engine}) on "
        f"{describe_source(data_info)}: {len(train_ids):,} training and {len(val_ids):,} "
        f"validation tokens, {tokenizer.kind} vocabulary of {tokenizer.vocab_size:,}"
    )
    print(f"run folder: {folder}", flush=True)
    return trainer, Budget(max_steps, max_time)


def read_data(data_info: dict[str, Any]) -> str:
    if data_info["path"] is None:
        return default_corpus_text(data_info["max_chars"])
    return read_text(data_info["path"], data_info["encoding"])


def describe_source(data_info: dict[str, Any]) -> str:
    if data_info["path"] is None:
        return f"the default corpus ({data_info['corpus']})"
    return data_info["path"]


def check_one_window(num_tokens: int, settings: LMSettings, source: str) -> None:
    needed = settings.batch_size * (settings.seq_len + 1)
    if num_tokens < needed:
        raise UserError(
            f"{source} is too short: {num_tokens:,} training tokens, but one batch window needs "
            f"{needed:,} (--batch-size {settings.batch_size} x (--seq-len {settings.seq_len} "
            "+ 1)); give a longer text or lower --batch-size or --seq-len"
        )


# -- a resumed run ----------------------------------------------------------------------------


def resume_run(args: argparse.Namespace) -> tuple[LMTrainer, Budget]:
    folder = resumed_run_folder(args.out)
    checkpoint = load_checkpoint(folder)
    check_language_model_checkpoint(checkpoint, folder)
    config = checkpoint.config
    check_flags_match(args, config, folder, SAVED_AS, path_flags=("data",), defaults=DEFAULTS)

    data_info = config["data"]
    text = read_data(data_info)
    if fingerprint(text) != data_info["sha256"]:
        raise UserError(
            f"the text of {describe_source(data_info)} has changed since the run in {folder} "
            "started; resuming needs the same text, so start a new run instead"
        )
    tokenizer = tokenizer_from_dict(config["tokenizer"])
    train_ids, val_ids = split_train_val(tokenizer.encode(text), data_info["val_fraction"])
    run_info = dict(config["run"])
    if args.max_steps is not None or args.max_time is not None:
        run_info.update(max_steps=args.max_steps, max_time=args.max_time)
    model = LanguageModel(**config["model"], rng=run_info["seed"])
    trainer = LMTrainer(
        model,
        tokenizer,
        train_ids,
        val_ids,
        LMSettings(**config["settings"]),
        folder,
        {"data": data_info, "run": run_info},
    )
    restore_run(trainer, checkpoint, folder)
    budget = Budget(run_info["max_steps"], run_info["max_time"], trainer.progress.elapsed)
    return trainer, budget
