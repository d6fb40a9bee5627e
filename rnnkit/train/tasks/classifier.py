"""The classification task: labelled texts in, a model that gives each text a label out.

The examples (TSV/CSV columns, ``<label> <text>`` lines, or one file per class) are read,
a tokenizer and the label list are fitted to the training examples, optional word vectors
start the embedding, optional pretraining trains the encoder as a language model first,
and a ``ClassifierTrainer`` trains a ``SequenceClassifier``. With ``test`` set, the best
model is measured on the test examples at the end. ``load_classifier`` brings a trained
model back for ``rnnkit predict`` and ``rnnkit eval``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.classification import (
    FORMATS,
    LabelledTexts,
    LabelVocabulary,
    encode_labelled_texts,
    read_labelled_texts,
    split_off,
)
from rnnkit.data.embeddings_file import read_word_vectors
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer
from rnnkit.errors import SettingError, UserError
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.classifier_trainer import ClassifierSettings, ClassifierTrainer
from rnnkit.train.encoder_pretraining import pretrain_encoder
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.memory import check_fits, training_bytes
from rnnkit.train.progress import ProgressBar, format_duration
from rnnkit.train.run_config import model_folder, saved_config, saved_entry, saved_task
from rnnkit.train.task import Task
from rnnkit.train.tasks.language_model import (
    build_model,
    check_encoding,
    load_saved_tokenizer,
    load_weights_into,
)

TOKENIZERS = ("word", "char")
PATH_SETTINGS = ("train", "valid", "test", "embeddings")  # of ClassifierData


@dataclass
class ClassifierData:
    """Where the labelled examples come from and how their texts become tokens."""

    train: str | None = option(
        None, "training examples (a file or a folder)", on_resume=CHANGEABLE, metavar="PATH"
    )
    valid: str | None = option(
        None,
        "validation examples (default: a seeded val_fraction of the training examples)",
        on_resume=CHANGEABLE,
        metavar="PATH",
    )
    test: str | None = option(
        None,
        "test examples, measured with the best model at the end",
        on_resume=CHANGEABLE,
        metavar="PATH",
    )
    format: str = option(
        "auto",
        "tsv/csv: label and text columns; label-first: '<label> <text>' lines; folders: one "
        "file per class named after it, one example per line; auto: from the path",
        choices=FORMATS,
    )
    label_col: str | None = option(
        None,
        "tsv/csv: the label column's header name (default 'label'), or its number counting "
        "from 1 for a file without a header line",
        metavar="COLUMN",
    )
    text_col: str | None = option(
        None,
        "tsv/csv: the text column's header name (default 'text'), or its number",
        metavar="COLUMN",
    )
    encoding: str = option(
        "utf-8", "the files' encoding (TREC needs latin-1)", check=check_encoding
    )
    val_fraction: float = option(
        0.1,
        "without valid: the share of the training examples held out for validation",
        minimum=0,
        below=1,
    )
    tokenizer: str = option(
        "word", "word: whitespace-separated words; char: characters", choices=TOKENIZERS
    )
    max_vocab: int | None = option(
        None, "word tokenizer: keep the N most frequent words", minimum=1, metavar="N"
    )
    min_count: int | None = option(
        None, "word tokenizer: words seen fewer times are <unk>", minimum=1, metavar="N"
    )
    embeddings: str | None = option(
        None,
        "start the word embeddings from vectors in GloVe/word2vec text format (the "
        "embedding size becomes the vectors' size)",
        metavar="FILE",
    )


@dataclass
class ClassifierRun:
    """Everything a classifier run is: config.json's "config"."""

    data: ClassifierData = field(default_factory=ClassifierData)
    model: SequenceClassifierConfig = field(default_factory=SequenceClassifierConfig)
    training: ClassifierSettings = field(default_factory=ClassifierSettings)


@dataclass
class TrainedClassifier:
    """What ``rnnkit predict`` and ``rnnkit eval`` need: the model (in evaluation mode),
    the tokenizer that feeds it, its classes, and the run's settings."""

    model: SequenceClassifier
    tokenizer: Tokenizer
    labels: LabelVocabulary
    config: ClassifierRun


def absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def read_examples(data: ClassifierData, path: str) -> LabelledTexts:
    return read_labelled_texts(path, data.format, data.label_col, data.text_col, data.encoding)


def read_train_valid(data: ClassifierData, seed: int) -> tuple[LabelledTexts, LabelledTexts]:
    """The training and validation examples DATA describes."""
    if data.train is None:
        raise SettingError("train is needed: the labelled examples to learn from", "train")
    train = read_examples(data, data.train)
    if data.valid is not None:
        return train, read_examples(data, data.valid)
    return split_off(train, data.val_fraction, seed)


def examples_fingerprint(*sets: LabelledTexts) -> str:
    """A digest of the examples, to check that a resumed run reads the same ones."""
    return fingerprint(
        "\n".join(
            f"{label}\t{text}"
            for data in sets
            for label, text in zip(data.labels, data.texts, strict=True)
        )
    )


class ClassifierTask(Task):
    name = "classify"
    title = "sequence classifier"
    config_class = ClassifierRun

    def resolve_paths(self, config: ClassifierRun) -> None:
        for name in PATH_SETTINGS:
            setattr(config.data, name, absolute(getattr(config.data, name)))

    def build(
        self, config: ClassifierRun, folder: Path, checkpoint: Checkpoint | None
    ) -> ClassifierTrainer:
        data, settings = config.data, config.training
        self.resolve_paths(config)
        train, valid = read_train_valid(data, settings.seed)
        digest = examples_fingerprint(train, valid)
        test = None if data.test is None else read_examples(data, data.test)
        if checkpoint is None:
            # A held-out part is still part of the training file: a class whose few
            # examples all fell into it is a class of the data set all the same.
            held_out = valid.labels if config.data.valid is None else []
            labels = LabelVocabulary.fit(train.labels + held_out, data.train)
            tokenizer = fit_tokenizer(data, train)
        else:
            if digest != saved_entry(checkpoint, folder, "data_sha256"):
                raise UserError(
                    f"the examples of {data.train} differ from those the run in {folder} "
                    "started on; resuming needs the same examples, so start a new run"
                )
            tokenizer, labels = saved_vocabularies(checkpoint, folder, config.model)
        if test is not None:  # refuse a test file with unknown labels now, not after training
            labels.encode(test.labels, data.test)
        vectors, notes = None, []
        if data.embeddings is not None and checkpoint is None:
            vectors, found = read_word_vectors(data.embeddings, tokenizer.vocab)
            config.model.embedding_size = vectors.shape[1]
        config.model.vocab_size, config.model.num_classes = tokenizer.vocab_size, len(labels)
        classes = config.model.num_classes
        check_fits(
            # Evaluation's logits come a batch at a time, but the confusion matrix is whole.
            training_bytes(parameter_count(config.model), 2 * classes * (classes + 256)),
            "training this classifier",
            "hidden_size, num_layers, embedding_size or the vocabulary, or use fewer classes",
        )
        model = build_model(SequenceClassifier, config.model, settings.seed)
        if vectors is not None:
            model.embedding.params["weight"][: tokenizer.vocab_size][found] = vectors[found]
            notes = [
                f"embeddings: {int(found.sum()):,} of {tokenizer.vocab_size:,} vocabulary "
                f"entries found in {data.embeddings}; the others start random"
            ]
        if settings.pretrain_epochs and model.bidirectional and model.num_layers > 1:
            raise SettingError(
                "pretrain_epochs needs num_layers 1 with bidirectional: the upper layers of "
                "a stacked encoder that reads both ways see the token each direction predicts",
                "bidirectional",
            )
        train_set, _ = encode_labelled_texts(train, tokenizer, labels, data.train)
        valid_source = data.valid or "the held-out validation examples"
        valid_set, _ = encode_labelled_texts(valid, tokenizer, labels, valid_source)
        trainer = ClassifierTrainer(
            model,
            tokenizer,
            labels.labels,
            train_set,
            valid_set,
            settings,
            folder,
            {"data_sha256": digest},
        )
        trainer.run_config = config
        trainer.notes = notes
        trainer.test_examples = test
        return trainer

    def before_training(self, trainer: ClassifierTrainer, stop: StopRequest) -> bool:
        """Pretrain the encoder as a language model when ``pretrain_epochs`` asks for it."""
        if trainer.settings.pretrain_epochs == 0:
            return True
        return pretrain(trainer, stop)

    def check_saved(self, checkpoint: Checkpoint, folder: Path, config: ClassifierRun) -> None:
        saved_vocabularies(checkpoint, folder, config.model)

    def preparation(self, trainer: ClassifierTrainer) -> str:
        return "pretraining the encoder"

    def summary(self, trainer: ClassifierTrainer) -> str:
        model = trainer.model
        direction = "bidirectional " if model.bidirectional else ""
        return (
            f"training a {model.num_layers}-layer {direction}{model.cell.upper()} classifier "
            f"({model.pooling} pooling, hidden size {model.hidden_size}, "
            f"{model.num_parameters():,} parameters; time loops in {model.encoder.engine}) on "
            f"{len(trainer.train_set):,} training and {len(trainer.valid_set):,} validation "
            f"examples of {len(trainer.labels)} classes; {trainer.tokenizer.kind} vocabulary "
            f"of {trainer.tokenizer.vocab_size:,}"
        )

    def report(self, trainer: ClassifierTrainer) -> list[str]:
        progress = trainer.progress
        lines = []
        if progress.best is not None:
            lines.append(
                f"validation accuracy {progress.val['accuracy']:.2%}; best "
                f"{progress.best['accuracy']:.2%} at step {progress.best_step}"
            )
        test = getattr(trainer, "test_examples", None)
        if test is not None:
            trained = load_classifier(model_folder(trainer.folder))
            source = trainer.run_config.data.test
            encoded, _ = encode_labelled_texts(test, trained.tokenizer, trained.labels, source)
            _, report = evaluate_classifier(trained.model, encoded, trained.labels.labels)
            lines.append(
                f"test accuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.4f} "
                f"({report['examples']} examples)"
            )
        return lines

    def load(self, folder: Path) -> TrainedClassifier:
        return load_classifier(folder)


def parameter_count(model: SequenceClassifierConfig) -> int:
    """The parameters of the ``SequenceClassifier`` MODEL describes, without making it."""
    directions = 2 if model.bidirectional else 1
    encoder = recurrent_parameter_count(
        model.cell, model.embedding_size, model.hidden_size, model.num_layers, model.bidirectional
    )
    features = directions * model.hidden_size * (2 if model.pooling == "mean-max" else 1)
    embedding = (model.vocab_size + 1) * model.embedding_size  # and the padding row
    return embedding + encoder + (features + 1) * model.num_classes


def fit_tokenizer(data: ClassifierData, train: LabelledTexts) -> Tokenizer:
    options = {
        name: getattr(data, name)
        for name in ("max_vocab", "min_count")
        if getattr(data, name) is not None
    }
    if options and data.tokenizer != "word":
        raise UserError("max_vocab and min_count apply to the word tokenizer only")
    return make_tokenizer(data.tokenizer, **options).fit("\n".join(train.texts))


def pretrain(trainer: ClassifierTrainer, stop: StopRequest) -> bool:
    """Pretrain TRAINER's encoder as a language model; False if STOP cut it short."""
    settings = trainer.settings
    epochs = settings.pretrain_epochs
    total_steps = epochs * trainer.steps_per_epoch()
    clock = Budget(total_steps)  # for the bar's time left; pretraining stops on its own
    record: dict[str, Any] = {"epochs": epochs}
    tokens_read = 0
    bar = ProgressBar(total_steps)
    bar.write(
        f"pretraining the embedding and encoder as a language model for {epochs} "
        f"epoch{'' if epochs == 1 else 's'} ({total_steps:,} steps)"
    )

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
        bar.write(f"pretraining done in {format_duration(record['seconds'])}")
    return finished


def saved_vocabularies(
    checkpoint: Checkpoint, folder: str | os.PathLike[str], model: SequenceClassifierConfig
) -> tuple[Tokenizer, LabelVocabulary]:
    """The run's tokenizer and labels, refused unless they fit the saved MODEL."""
    tokenizer = load_saved_tokenizer(checkpoint, folder)
    try:
        labels = LabelVocabulary(saved_entry(checkpoint, folder, "labels"))
    except (TypeError, ValueError) as error:
        raise UserError(f"{folder}/config.json was edited or damaged: labels: {error}") from None
    if (tokenizer.vocab_size, len(labels)) != (model.vocab_size, model.num_classes):
        raise UserError(
            f"{folder}/config.json was edited or damaged: {tokenizer.vocab_size} tokens and "
            f"{len(labels)} labels for a model of {model.vocab_size} tokens and "
            f"{model.num_classes} classes; retrain"
        )
    return tokenizer, labels


def load_classifier(folder: str | os.PathLike[str]) -> TrainedClassifier:
    """The classifier saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    checkpoint = load_checkpoint(folder)
    task = saved_task(checkpoint, folder)
    if task != ClassifierTask.name:
        raise UserError(
            f"{folder} holds a {task} run, not a sequence classifier; give the run folder of "
            "a classifier (task classify)"
        )
    config = saved_config(checkpoint, folder, ClassifierRun)
    tokenizer, labels = saved_vocabularies(checkpoint, folder, config.model)
    model = build_model(SequenceClassifier, config.model, folder=folder)
    load_weights_into(model, checkpoint, folder)
    return TrainedClassifier(model.eval(), tokenizer, labels, config)
