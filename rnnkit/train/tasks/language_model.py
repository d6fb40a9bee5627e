"""The language-model task: a text in, a model that predicts every next token out.

The text (a file, a folder of files, or by default the Python standard library's own
sources) is tokenized, its last ``val_fraction`` validates, and an ``LMTrainer`` trains a
``LanguageModel`` with truncated BPTT. ``load_language_model`` brings a trained model
back for ``rnnkit sample`` and ``rnnkit eval``.
"""

from __future__ import annotations

import codecs
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import CHANGEABLE, ConfigError, option
from rnnkit.data.default_corpus import DEFAULT_CORPUS_NAME, default_corpus_text
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.lm_batches import split_train_val
from rnnkit.data.text import read_text
from rnnkit.data.text_stream import TextStream
from rnnkit.data.token_cache import token_ids
from rnnkit.data.tokenizers import TOKENIZERS, Tokenizer, make_tokenizer, tokenizer_from_dict
from rnnkit.errors import SettingError, UserError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint
from rnnkit.train.lm_evaluation import describe_measures
from rnnkit.train.lm_trainer import LMSettings, LMTrainer
from rnnkit.train.memory import check_fits, training_bytes
from rnnkit.train.run_config import saved_config, saved_entry, saved_task
from rnnkit.train.task import Task

# Of the default corpus: a two-minute run sees about a million characters, and a bigger
# validation part would only make each evaluation slower.
DEFAULT_CORPUS_CHARS = 1_000_000


def check_encoding(name: str) -> str | None:
    """Why NAME is no text encoding Python knows, or None."""
    try:
        codecs.lookup(name)
    except LookupError:
        return f"no such text encoding: {name!r} (e.g. utf-8, latin-1, utf-16)"
    return None


@dataclass
class LanguageModelData:
    """Where the text comes from and how it becomes tokens."""

    data: str | None = option(
        None,
        "a text file, or a folder of them (default: the Python standard library's sources, "
        f"first {DEFAULT_CORPUS_CHARS:,} characters)",
        on_resume=CHANGEABLE,
        metavar="PATH",
    )
    encoding: str = option("utf-8", "the text's encoding", check=check_encoding)
    val_fraction: float = option(
        0.1, "the last part of the text kept for validation (0: none)", minimum=0, below=1
    )
    tokenizer: str = option(
        "char",
        "char: characters; word: words, <eos> per line; jamo: characters with Korean "
        "syllables split into jamo",
        choices=tuple(TOKENIZERS),
    )
    max_vocab: int | None = option(
        None, "word tokenizer: keep the N most frequent words", minimum=1, metavar="N"
    )
    min_count: int | None = option(
        None, "word tokenizer: words seen fewer times are <unk>", minimum=1, metavar="N"
    )


@dataclass
class LanguageModelRun:
    """Everything a language-model run is: config.json's "config"."""

    data: LanguageModelData = field(default_factory=LanguageModelData)
    model: LanguageModelConfig = field(default_factory=LanguageModelConfig)
    training: LMSettings = field(default_factory=LMSettings)


def read_corpus(data: LanguageModelData) -> str:
    """The text DATA names, or the default corpus."""
    if data.data is None:
        return default_corpus_text(DEFAULT_CORPUS_CHARS)
    return read_text(data.data, data.encoding)


def corpus_source(data: LanguageModelData) -> str | TextStream:
    """The default corpus, or the file or folder DATA names as a ``TextStream``."""
    if data.data is None:
        return default_corpus_text(DEFAULT_CORPUS_CHARS)
    return TextStream(data.data, data.encoding)


def describe_source(data: LanguageModelData) -> str:
    return data.data if data.data is not None else f"the default corpus ({DEFAULT_CORPUS_NAME})"


class LanguageModelTask(Task):
    name = "lm"
    title = "language model"
    config_class = LanguageModelRun

    def resolve_paths(self, config: LanguageModelRun) -> None:
        if config.data.data is not None:
            config.data.data = str(Path(config.data.data).resolve())

    def build(
        self, config: LanguageModelRun, folder: Path, checkpoint: Checkpoint | None
    ) -> LMTrainer:
        self.resolve_paths(config)
        model_config = config.model
        if model_config.tie_weights and model_config.embedding_size != model_config.hidden_size:
            raise SettingError(
                "tie_weights needs embedding_size equal to hidden_size, got "
                f"{model_config.embedding_size} and {model_config.hidden_size}",
                "tie_weights",
            )
        text = corpus_source(config.data)  # a file or folder is streamed, never held whole
        digest = fingerprint(text)
        if checkpoint is None:
            tokenizer = fit_tokenizer(config.data, text)
        else:
            if digest != saved_entry(checkpoint, folder, "data_sha256"):
                raise UserError(
                    f"the text of {describe_source(config.data)} differs from the text the run "
                    f"in {folder} started on; resuming needs the same text, so start a new run"
                )
            tokenizer = saved_tokenizer_for(checkpoint, folder, config.model)
        ids = token_ids(text, tokenizer)  # streamed: a memory map from the token cache
        train_ids, val_ids = split_train_val(ids, config.data.val_fraction)
        settings = config.training
        needed = settings.batch_size * (settings.seq_len + 1)
        if len(train_ids) < needed:
            raise UserError(
                f"{describe_source(config.data)} is too short: {len(train_ids):,} training "
                f"tokens, but one window needs {needed:,} (batch_size {settings.batch_size} x "
                f"(seq_len {settings.seq_len} + 1)); give a longer text or lower batch_size "
                "or seq_len"
            )
        if settings.ema > 0 and len(val_ids) == 0:
            # Only validation puts the average to use: it is what best/ keeps.
            raise UserError("ema needs validation text: give a val_fraction above 0")
        config.model.vocab_size = tokenizer.vocab_size
        check_fits(
            training_bytes(parameter_count(config.model), activation_count(config)),
            "training this language model",
            "hidden_size, num_layers, embedding_size, batch_size or seq_len, or the vocabulary",
        )
        model = build_model(LanguageModel, config.model, settings.seed)
        trainer = LMTrainer(
            model, tokenizer, train_ids, val_ids, settings, folder, {"data_sha256": digest}
        )
        trainer.run_config = config
        return trainer

    def summary(self, trainer: LMTrainer) -> str:
        model, config = trainer.model, trainer.run_config
        return (
            f"training a {model.num_layers}-layer {model.cell.upper()} language model (hidden "
            f"size {model.hidden_size}, {model.num_parameters():,} parameters; time loops in "
            f"{model.rnn.engine}) on {describe_source(config.data)}: "
            f"{trainer.batcher.streams.size:,} training and {len(trainer.val_ids):,} validation "
            f"tokens, {trainer.tokenizer.kind} vocabulary of {trainer.tokenizer.vocab_size:,}"
        )

    def check_saved(
        self, checkpoint: Checkpoint, folder: Path, config: LanguageModelRun
    ) -> None:
        saved_tokenizer_for(checkpoint, folder, config.model)

    def report(self, trainer: LMTrainer) -> list[str]:
        progress = trainer.progress
        if progress.best is None:
            return []
        return [
            f"validation {describe_measures(progress.val)}; best "
            f"{describe_measures(progress.best)} at step {progress.best_step}"
        ]

    def load(self, folder: Path) -> tuple[LanguageModel, Tokenizer, LanguageModelRun]:
        return load_language_model(folder)


def build_model(kind: Any, config: Any, seed: int | None = None, folder: Any = None) -> Any:
    """``kind.from_config(config)``, with a model's refusal of its settings as a UserError
    (FOLDER: the run folder whose config.json they came from, or None for a new run)."""
    try:
        return kind.from_config(config, rng=seed)
    except ConfigError as error:
        if folder is None:
            raise  # names the setting: the command line writes it as its flag
        raise UserError(
            f"{folder}/config.json was edited or damaged: setting model.{error}; restore it "
            "or retrain"
        ) from None
    except (ValueError, TypeError) as error:
        reason = " ".join(str(error).split())
        if folder is None:
            raise UserError(reason) from None
        raise UserError(
            f"{folder}/config.json was edited or damaged: {reason}; restore it or retrain"
        ) from None


def parameter_count(model: LanguageModelConfig) -> int:
    """The parameters of the ``LanguageModel`` MODEL describes, without making it."""
    vocab, embedding, hidden = model.vocab_size, model.embedding_size, model.hidden_size
    decoder = (0 if model.tie_weights else hidden * vocab) + vocab
    rnn = recurrent_parameter_count(model.cell, embedding, hidden, model.num_layers)
    return vocab * embedding + rnn + decoder


def activation_count(config: LanguageModelRun) -> int:
    """Numbers one training window keeps: logits and their gradient, and per layer the
    gates, states and outputs of every step."""
    model, settings = config.model, config.training
    positions = settings.batch_size * settings.seq_len
    return positions * (3 * model.vocab_size + model.num_layers * 8 * model.hidden_size)


def fit_tokenizer(data: LanguageModelData, text: str) -> Tokenizer:
    options = {
        name: getattr(data, name)
        for name in ("max_vocab", "min_count")
        if getattr(data, name) is not None
    }
    if options and data.tokenizer != "word":
        raise UserError("max_vocab and min_count apply to the word tokenizer only")
    return make_tokenizer(data.tokenizer, **options).fit(text)


def load_language_model(
    folder: str | os.PathLike[str],
) -> tuple[LanguageModel, Tokenizer, LanguageModelRun]:
    """The model (in evaluation mode), its tokenizer and the run's settings in FOLDER."""
    checkpoint = load_checkpoint(folder)
    task = saved_task(checkpoint, folder)
    if task != LanguageModelTask.name:
        raise UserError(
            f"{folder} holds a {task} run, not a language model; give the run folder of a "
            "language model (task lm)"
        )
    config = saved_config(checkpoint, folder, LanguageModelRun)
    tokenizer = saved_tokenizer_for(checkpoint, folder, config.model)
    check_fits(
        training_bytes(parameter_count(config.model), 0) // 3,  # weights and one copy
        f"the model in {folder}",
        f"its sizes: {folder}/config.json may have been edited",
    )
    model = build_model(LanguageModel, config.model, folder=folder)
    load_weights_into(model, checkpoint, folder)
    return model.eval(), tokenizer, config


def saved_tokenizer_for(
    checkpoint: Checkpoint, folder: str | os.PathLike[str], model: LanguageModelConfig
) -> Tokenizer:
    """The run's tokenizer, refused unless it has the vocabulary size of the saved MODEL."""
    tokenizer = load_saved_tokenizer(checkpoint, folder)
    if tokenizer.vocab_size != model.vocab_size:
        raise UserError(
            f"{folder}/config.json was edited or damaged: a tokenizer of "
            f"{tokenizer.vocab_size} tokens for a model of {model.vocab_size}; retrain"
        )
    return tokenizer


def load_saved_tokenizer(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> Tokenizer:
    try:
        return tokenizer_from_dict(saved_entry(checkpoint, folder, "tokenizer"))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(
            f"{folder}/config.json was edited or damaged: its tokenizer does not load "
            f"({' '.join(str(error).split())}); restore it or retrain"
        ) from None


def load_weights_into(model: Any, checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> None:
    """The checkpoint's weights into MODEL, or a one-line error if they do not fit."""
    try:
        model.load_state_dict(checkpoint.arrays["model"])
    except (KeyError, ValueError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged (its weights do not fit its config: "
            f"{' '.join(str(error).split())}); retrain or use another run folder"
        ) from None
