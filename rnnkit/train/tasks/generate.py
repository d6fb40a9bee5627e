"""The generation task (one-to-many): texts with a condition in, a model that writes a text
for a condition out.

The texts come from a folder of one file per category (the surnames data), TSV
``condition<TAB>text`` lines (a category name, or with ``condition vector`` a row of
numbers), or a text file with a ``.npy`` matrix of one feature row per line
(``rnnkit.data.conditioned_text``). A character vocabulary (with a line break as the
boundary token that starts and ends every text) and the category list are fitted to the
training texts, and a ``GenerateTrainer`` trains a ``ConditionedLanguageModel``; validation
measures bits per character, each text under its own condition. ``load_generator`` brings
a trained model back; ``encode_conditioned`` and ``measure_conditioned`` are what
``rnnkit eval`` calls, ``generate_texts`` what ``rnnkit sample`` calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import option
from rnnkit.data.conditioned_text import (
    ConditionedTexts,
    category_ids,
    read_category_folder,
    read_condition_tsv,
    read_text_with_features,
)
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer
from rnnkit.errors import SettingError, UserError, quoted
from rnnkit.models.conditioned_language_model import (
    ConditionedLanguageModel,
    ConditionedLanguageModelConfig,
)
from rnnkit.nn.layer import make_rng
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.data_options import path_option
from rnnkit.train.generate_trainer import (
    EncodedConditioned,
    GenerateSettings,
    GenerateTrainer,
    measure_conditioned,
)
from rnnkit.train.memory import check_fits, check_saved_fits, training_bytes
from rnnkit.train.run_config import damaged, saved_entry
from rnnkit.train.task import Task, data_sizes, network, saved_model, time_loops
from rnnkit.train.tasks.language_model import build_model, check_encoding, saved_tokenizer_for

BOUNDARY = "\n"  # starts and ends every text: texts are lines


@dataclass
class GenerateData:
    """Where the conditioned texts come from."""

    train: str | None = path_option(
        "training texts: a folder of one file per category, a TSV file of "
        "condition<TAB>text lines, or a text file of one text per line (with features)"
    )
    valid: str | None = path_option(
        "validation texts, as train (default: a seeded val_fraction of the training texts)"
    )
    features: str | None = path_option(
        "a .npy matrix of one feature row per line of the train text file (condition vector)",
        "FILE",
    )
    valid_features: str | None = path_option(
        "a .npy matrix of one feature row per line of the valid text file", "FILE"
    )
    encoding: str = option("utf-8", "the files' encoding", check=check_encoding)
    val_fraction: float = option(
        0.1,
        "without valid: the share of the training texts held out for validation",
        minimum=0,
        below=1,
    )
    # A batch is padded to its longest text, so one line of a million characters (a file
    # without line breaks) would ask for tens of GiB.
    max_length: int = option(
        1000,
        "the longest training or validation text accepted, in characters",
        minimum=1,
        maximum=1 << 20,
        older_runs=1 << 20,  # runs saved before the limit had none
    )


@dataclass
class GenerateRun:
    """Everything a generation run is: config.json's "config" (the categories and the
    characters are fitted to the data and saved beside it)."""

    data: GenerateData = field(default_factory=GenerateData)
    model: ConditionedLanguageModelConfig = field(default_factory=ConditionedLanguageModelConfig)
    training: GenerateSettings = field(default_factory=GenerateSettings)


@dataclass
class TrainedGenerator:
    """A trained generator, as ``load_generator`` returns it: the model (in evaluation
    mode), the tokenizer of its characters, its categories in the order of their ids
    (empty for a model conditioned on feature vectors), and the run's settings."""

    model: ConditionedLanguageModel
    tokenizer: Tokenizer
    categories: list[str]
    config: GenerateRun


def read_conditioned(
    path: str, features: str | None, condition: str, encoding: str = "utf-8"
) -> ConditionedTexts:
    """The texts at PATH with their conditions, read as a model conditioned on CONDITION
    ("category" or "vector") needs them: FEATURES, a ``.npy`` matrix, goes with a text file."""
    if features is not None:
        if condition != "vector":
            raise SettingError(
                "a feature matrix gives vectors: features needs condition vector",
                "features",
                "condition",
            )
        return read_text_with_features(path, features, encoding)
    if Path(path).is_dir():
        if condition != "category":
            raise SettingError(
                f"{path} is a folder of one file per category: it needs condition category, "
                "or give a text file with features",
                "condition",
            )
        return read_category_folder(path, encoding)
    return read_condition_tsv(path, condition, encoding)


def encode_conditioned(
    data: ConditionedTexts,
    tokenizer: Tokenizer,
    categories: Sequence[str],
    feature_size: int,
    source: str,
) -> EncodedConditioned:
    """DATA as token ids between boundaries and condition ids (or rows); a category the
    model does not know is a ``UserError`` naming its line, a feature count one naming
    SOURCE (the ``.npy`` file, where the vectors come from one)."""
    if data.conditions is not None:
        if not categories:
            raise UserError(
                f"{source} gives categories, but the model is conditioned on feature vectors"
            )
        conditions = category_ids(data.conditions, list(categories), source, data.origins)
    else:
        conditions = data.features
        if feature_size == 0 or conditions.shape[1] != feature_size:
            expected = f"{feature_size} numbers" if feature_size else "a category"
            raise UserError(
                f"{source} gives conditions of {conditions.shape[1]} numbers, but the model "
                f"is conditioned on {expected}; give conditions of that size"
            )
    sequences = [tokenizer.encode(BOUNDARY + text + BOUNDARY) for text in data.texts]
    return EncodedConditioned(sequences, conditions)


class GenerateTask(Task, name="generate", title="conditioned generator"):
    """Texts with their condition in (a category or a feature vector), a one-to-many
    generator out that writes a text for a condition."""

    config_class = GenerateRun
    examples = "conditioned texts"

    def read_examples(self, config: GenerateRun, part: str) -> ConditionedTexts:
        data = config.data
        features = data.features if part == "train" else data.valid_features
        return read_conditioned(
            getattr(data, part), features, config.model.condition, data.encoding
        )

    def build(
        self, config: GenerateRun, folder: Path, checkpoint: Checkpoint | None
    ) -> GenerateTrainer:
        data, settings, model_config = config.data, config.training, config.model
        if data.valid_features is not None and data.valid is None:
            raise SettingError("valid_features goes with a valid text file", "valid_features")
        train, valid, _, digest = self.read_data(config, folder, checkpoint)
        for part in (train, valid):
            check_lengths(
                part,
                data.max_length,
                f"max_length {data.max_length}",
                "raise max_length, or split the text",
            )
        if checkpoint is None:
            # A held-out part is still part of the training data: its categories count.
            held_out = valid.categories if data.valid is None else []
            categories = sorted(set(train.categories) | set(held_out))
            tokenizer = make_tokenizer("char").fit(BOUNDARY.join(train.texts) + BOUNDARY)
        else:
            tokenizer, categories = saved_vocabularies(checkpoint, folder, model_config)
        model_config.vocab_size = tokenizer.vocab_size
        model_config.num_categories = len(categories)
        model_config.feature_size = 0 if train.features is None else train.features.shape[1]
        check_fits(
            training_bytes(parameter_count(model_config), 0),
            "training this generator",
            "hidden_size, num_layers, embedding_size or condition_size",
        )
        model = build_model(ConditionedLanguageModel, model_config, settings.seed)
        feature_size = model_config.feature_size
        train_set = encode_conditioned(train, tokenizer, categories, feature_size, data.train)
        valid_source = data.valid_features or data.valid or "the held-out validation texts"
        valid_set = encode_conditioned(valid, tokenizer, categories, feature_size, valid_source)
        info = {"data_sha256": digest}
        trainer = GenerateTrainer(
            model, tokenizer, categories, train_set, valid_set, settings, folder, info
        )
        return trainer

    def check_saved(self, checkpoint: Checkpoint, folder: Path, config: GenerateRun) -> None:
        saved_vocabularies(checkpoint, folder, config.model)

    def summary(self, trainer: GenerateTrainer) -> str:
        model = trainer.model
        if model.condition == "category":
            condition = f"{len(trainer.categories)} categories"
        else:
            condition = f"feature vectors of {model.feature_size}"
        return (
            f"training a {network(model, 'generator')} conditioned on {condition} (hidden "
            f"size {model.hidden_size}, {model.num_parameters():,} parameters; time loops in "
            f"{time_loops(model)}) on "
            f"{data_sizes(trainer, 'texts')}; {trainer.tokenizer.vocab_size} characters"
        )

    def report(self, trainer: GenerateTrainer) -> list[str]:
        progress, lines = trainer.progress, []
        if progress.best is not None:
            lines.append(
                f"validation {progress.val['bits_per_char']:.4f} bits/char; best "
                f"{progress.best['bits_per_char']:.4f} at step {progress.best_step}"
            )
        return lines

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: GenerateRun
    ) -> TrainedGenerator:
        tokenizer, categories = saved_vocabularies(checkpoint, folder, config.model)
        check_saved_fits(parameter_count(config.model), folder)
        model = saved_model(ConditionedLanguageModel, config.model, checkpoint, folder)
        return TrainedGenerator(model, tokenizer, categories, config)


def check_lengths(data: ConditionedTexts, max_length: int, limit: str, fix: str) -> None:
    """Refuse a text of DATA longer than MAX_LENGTH characters, naming its line, the LIMIT
    (how the message calls MAX_LENGTH) and the FIX."""
    for text, origin in zip(data.texts, data.origins, strict=True):
        if len(text) > max_length:
            raise UserError(
                f"{origin}: a text of {len(text):,} characters, longer than {limit}; {fix}"
            )


def parameter_count(model: ConditionedLanguageModelConfig) -> int:
    """The parameters of the ``ConditionedLanguageModel`` MODEL describes, without making it."""
    category = model.condition == "category"
    width = model.condition_size if category else model.feature_size
    table = model.num_categories * model.condition_size if category else 0
    states = (2 if model.cell == "lstm" else 1) * model.num_layers * model.hidden_size
    bridge = (width + 1) * states
    embedding = (model.vocab_size + 1) * model.embedding_size  # and the padding row
    inputs = model.embedding_size + (width if model.feed_condition else 0)
    rnn = recurrent_parameter_count(model.cell, inputs, model.hidden_size, model.num_layers)
    decoder = (model.hidden_size + 1) * model.vocab_size
    return table + bridge + embedding + rnn + decoder


def saved_vocabularies(
    checkpoint: Checkpoint, folder: str | os.PathLike[str], model: ConditionedLanguageModelConfig
) -> tuple[Tokenizer, list[str]]:
    """The run's tokenizer and categories, refused unless they fit the saved MODEL."""
    tokenizer = saved_tokenizer_for(checkpoint, folder, model)
    categories = saved_entry(checkpoint, folder, "categories")
    well_formed = isinstance(categories, list) and all(isinstance(c, str) for c in categories)
    if not well_formed or len(set(categories)) != len(categories):
        raise damaged(
            folder, f"categories: expected a list of distinct names, got {quoted(str(categories))}"
        )
    if len(categories) != model.num_categories:
        raise damaged(
            folder, f"{len(categories)} categories for a model of {model.num_categories}", "retrain"
        )
    return tokenizer, categories


def load_generator(folder: str | os.PathLike[str]) -> TrainedGenerator:
    """The generator saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    return GenerateTask().load(folder)


def evaluate_generator(
    trained: TrainedGenerator, data: ConditionedTexts, source: str
) -> dict[str, Any]:
    """Bits per character of TRAINED on DATA (read from SOURCE), each text under its own
    condition: ``loss``, ``bits_per_char``, ``characters`` (predicted: each text's
    characters and its end), ``texts`` and ``unknown_characters`` (read as ``<unk>``)."""
    model = trained.model
    max_length = trained.config.data.max_length
    check_lengths(
        data,
        max_length,
        f"the {max_length:,} characters this model was trained to accept",
        "split the text, or leave it out",
    )
    encoded = encode_conditioned(
        data, trained.tokenizer, trained.categories, model.feature_size, source
    )
    unknown = sum(int(np.sum(s == trained.tokenizer.unknown_id)) for s in encoded.sequences)
    return {
        **measure_conditioned(model, encoded),
        "texts": len(encoded),
        "unknown_characters": unknown,
    }


def generate_texts(
    trained: TrainedGenerator,
    condition: Any,
    count: int,
    prime: str = "",
    length: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> Iterator[str]:
    """COUNT texts written under CONDITION (a category id, or a feature row), each starting
    with PRIME and ending at the boundary or after LENGTH more characters; RNG (or a seed)
    draws them all."""
    tokenizer = trained.tokenizer
    boundary = int(tokenizer.encode(BOUNDARY)[0])
    start = [boundary, *tokenizer.encode(prime)] if prime else [boundary]
    rng = make_rng(rng)
    for _ in range(count):
        tokens = trained.model.generate(
            condition, start, length, temperature, top_k, stop=boundary, rng=rng,
            exclude=tokenizer.never_sampled,
        )
        yield prime + tokenizer.decode(list(tokens))
