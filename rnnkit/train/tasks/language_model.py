"""The language-model task: a text in, a model that predicts every next token out.

The text (a file, a folder of files, or by default the Python standard library's own
sources) is tokenized, its last ``val_fraction`` validates, and an ``LMTrainer`` trains a
``LanguageModel`` with truncated BPTT. ``load_language_model`` brings a trained model
back for ``rnnkit sample`` and ``rnnkit eval``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rnnkit.config import option
from rnnkit.data.default_corpus import DEFAULT_CORPUS_NAME, default_corpus_text
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.lm_batches import split_train_val
from rnnkit.data.text import read_text, skipped_note
from rnnkit.data.text_stream import TextStream
from rnnkit.data.token_cache import token_ids
from rnnkit.data.tokenizers import TOKENIZERS, Tokenizer
from rnnkit.errors import SettingError, UserError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.data_options import (
    check_encoding,
    encoding_option,
    fit_tokenizer,
    load_saved_tokenizer,
    max_vocab_option,
    min_count_option,
    path_option,
    val_fraction_option,
)
from rnnkit.train.lm_evaluation import describe_measures
from rnnkit.train.lm_trainer import LMSettings, LMTrainer
from rnnkit.train.memory import check_fits, training_bytes
from rnnkit.train.run_config import damaged
from rnnkit.train.task import (
    Task,
    build_model,
    check_same_data,
    network,
    run_config_class,
    saved_model,
)

# Of the default corpus: a two-minute run sees about a million characters, and a bigger
# validation part would only make each evaluation slower.
DEFAULT_CORPUS_CHARS = 1_000_000


@dataclass
class LanguageModelData:
    """Where the text comes from and how it becomes tokens."""

    data: str | None = path_option(
        "a text file, or a folder of them (default: the Python standard library's sources, "
        f"first {DEFAULT_CORPUS_CHARS:,} characters)"
    )
    encoding: str = encoding_option("the text's encoding", check=check_encoding)
    val_fraction: float = val_fraction_option(
        "the last part of the text kept for validation (0: none)"
    )
    tokenizer: str = option(
        "char",
        "char: characters; word: words, <eos> per line; jamo: characters with Korean "
        "syllables split into jamo",
        choices=tuple(TOKENIZERS),
    )
    max_vocab: int | None = max_vocab_option()
    min_count: int | None = min_count_option()


LanguageModelRun = run_config_class(
    "LanguageModelRun", "language-model", LanguageModelData, LanguageModelConfig, LMSettings
)


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


class LanguageModelTask(Task, name="lm", title="language model", config_class=LanguageModelRun):
    """Text in (a file, a folder of files, or the embedded default corpus), a language model
    out that gives the next token and samples text."""

    def build(
        self, config: LanguageModelRun, folder: Path, checkpoint: Checkpoint | None
    ) -> LMTrainer:
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
            source = f"the text of {describe_source(config.data)}"
            check_same_data(checkpoint, folder, digest, source, "text", "differs from the text")
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
        skipped = skipped_note(text.path, text.skipped) if isinstance(text, TextStream) else None
        if skipped:
            trainer.notes.append(skipped)
        return trainer

    def summary(self, trainer: LMTrainer) -> str:
        model, tokenizer = trainer.model, trainer.tokenizer
        source = describe_source(trainer.run_config.data)
        train, valid = trainer.batcher.streams.size, len(trainer.val_ids)
        return (
            f"training a {network(model, 'language model')} (hidden size {model.hidden_size}, "
            f"{model.num_parameters():,} parameters; time loops in {model.rnn.engine}) on "
            f"{source}: {train:,} training and {valid:,} validation tokens, {tokenizer.kind} "
            f"vocabulary of {tokenizer.vocab_size:,}"
        )

    def check_saved(self, checkpoint: Checkpoint, folder: Path, config: LanguageModelRun) -> None:
        saved_tokenizer_for(checkpoint, folder, config.model)

    def validation_figure(self, measures: dict[str, float], named: bool) -> str:
        return describe_measures(measures)

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: LanguageModelRun
    ) -> tuple[LanguageModel, Tokenizer, LanguageModelRun]:
        tokenizer = saved_tokenizer_for(checkpoint, folder, config.model)
        check_fits(
            training_bytes(parameter_count(config.model), 0) // 3,  # weights and one copy
            f"the model in {folder}",
            f"its sizes: {folder}/config.json may have been edited",
        )
        return saved_model(LanguageModel, config.model, checkpoint, folder), tokenizer, config


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


def load_language_model(
    folder: str | os.PathLike[str],
) -> tuple[LanguageModel, Tokenizer, LanguageModelRun]:
    """The model (in evaluation mode), its tokenizer and the run's settings in FOLDER."""
    return LanguageModelTask().load(folder)


def saved_tokenizer_for(
    checkpoint: Checkpoint, folder: str | os.PathLike[str], model: LanguageModelConfig
) -> Tokenizer:
    """The run's tokenizer, refused unless it has the vocabulary size of the saved MODEL."""
    tokenizer = load_saved_tokenizer(checkpoint, folder)
    if tokenizer.vocab_size != model.vocab_size:
        raise damaged(
            folder,
            f"a tokenizer of {tokenizer.vocab_size} tokens for a model of {model.vocab_size}",
            "retrain",
        )
    return tokenizer
