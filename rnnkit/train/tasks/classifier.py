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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.config import option
from rnnkit.data.classification import (
    FORMATS,
    LabelledTexts,
    LabelVocabulary,
    encode_labelled_texts,
    read_labelled_texts,
)
from rnnkit.data.embeddings_file import read_word_vectors
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.errors import SettingError
from rnnkit.models.sequence_classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.budget import Budget
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.classifier_evaluation import evaluate_classifier
from rnnkit.train.classifier_trainer import ClassifierSettings, ClassifierTrainer
from rnnkit.train.data_options import (
    check_encoding,
    encoding_option,
    example_files,
    fit_tokenizer,
    load_saved_tokenizer,
    max_vocab_option,
    min_count_option,
    val_fraction_option,
)
from rnnkit.train.encoder_pretraining import pretrain_encoder
from rnnkit.train.interrupt import StopRequest
from rnnkit.train.memory import check_fits, training_bytes
from rnnkit.train.progress import ProgressBar, format_duration
from rnnkit.train.run_config import damaged, saved_entry
from rnnkit.train.task import (
    Task,
    build_model,
    data_sizes,
    network,
    run_config_class,
    saved_model,
)

TOKENIZERS = ("auto", "word", "char")
# auto reads characters when at least this share of the training texts are one word:
# names or single words, which a word vocabulary would learn by heart and could not read
# when unseen.
ONE_WORD_SHARE = 0.9


@dataclass
class ClassifierData(
    example_files(
        "training examples (a file or a folder)",
        "examples",
        "examples",
        FORMATS,
        "tsv/csv: label and text columns; label-first: '<label> <text>' lines; folders: one "
        "file per class named after it, one example per line; auto: from the path",
    )
):
    """Where the labelled examples come from and how their texts become tokens."""

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
    encoding: str = encoding_option(
        "the files' encoding (TREC needs latin-1)", check=check_encoding
    )
    val_fraction: float = val_fraction_option(
        "without valid: the share of the training examples held out for validation; 0 "
        "trains on all of them with no validation, and the last model (the average with "
        "ema) is the run's model: the refit on all the data of settings, such as the "
        "number of epochs, chosen on validation before"
    )
    tokenizer: str = option(
        "auto",
        "word: whitespace-separated words; char: characters; auto: characters when the "
        "training texts are single words (names, words), else words (and always words "
        "with max_vocab, min_count or embeddings)",
        choices=TOKENIZERS,
    )
    max_vocab: int | None = max_vocab_option()
    min_count: int | None = min_count_option()
    embeddings: str | None = option(
        None,
        "start the word embeddings from vectors in GloVe/word2vec text format (the "
        "embedding size becomes the vectors' size)",
        metavar="FILE",
        path=True,
    )


ClassifierRun = run_config_class(
    "ClassifierRun", "classifier", ClassifierData, SequenceClassifierConfig, ClassifierSettings
)


def tokenizer_for(texts: list[str], data: ClassifierData) -> str:
    """What tokenizer auto reads TEXTS with: "char" when at least ``ONE_WORD_SHARE`` of
    them are one word and DATA sets no word-vocabulary limit (max_vocab, min_count) and no
    word vectors (embeddings), else "word"."""
    if data.max_vocab is not None or data.min_count is not None or data.embeddings is not None:
        return "word"
    one_word = sum(len(text.split()) <= 1 for text in texts)
    return "char" if one_word >= ONE_WORD_SHARE * max(len(texts), 1) else "word"


@dataclass
class TrainedClassifier:
    """What ``rnnkit predict`` and ``rnnkit eval`` need: the model (in evaluation mode),
    the tokenizer that feeds it, its classes, and the run's settings."""

    model: SequenceClassifier
    tokenizer: Tokenizer
    labels: LabelVocabulary
    config: ClassifierRun


class ClassifierTask(Task, name="classify", title="sequence classifier"):
    """Labelled texts in (CSV, TSV or a folder per label), a many-to-one classifier out."""

    config_class = ClassifierRun
    figure = ("accuracy", "accuracy", ".2%")
    examples = "labelled examples"
    trains_without_validation = True

    def read_examples(self, config: ClassifierRun, part: str) -> LabelledTexts:
        data = config.data
        return read_labelled_texts(
            getattr(data, part), data.format, data.label_col, data.text_col, data.encoding
        )

    def build(
        self, config: ClassifierRun, folder: Path, checkpoint: Checkpoint | None
    ) -> ClassifierTrainer:
        train, valid, test, digest = self.read_data(config, folder, checkpoint)
        data, settings = config.data, config.training
        notes: list[str] = []
        if checkpoint is None:
            # A held-out part is still part of the training file: a class whose few
            # examples all fell into it is a class of the data set all the same.
            held_out = valid.labels if config.data.valid is None else []
            labels = LabelVocabulary.fit(train.labels + held_out, data.train)
            if data.tokenizer == "auto":  # the run saves the kind chosen
                data.tokenizer = tokenizer_for(train.texts, data)
                if data.tokenizer == "char":
                    notes.append(
                        "tokenizer auto reads characters: the training texts are single "
                        "words (tokenizer word would learn each one by heart)"
                    )
            tokenizer = fit_tokenizer(data, "\n".join(train.texts))
        else:
            tokenizer, labels = saved_vocabularies(checkpoint, folder, config.model)
        if test is not None:  # refuse a test file with unknown labels now, not after training
            labels.encode(test.labels, data.test)
        vectors = None
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
            notes.append(
                f"embeddings: {int(found.sum()):,} of {tokenizer.vocab_size:,} vocabulary "
                f"entries found in {data.embeddings}; the others start random"
            )
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
        trainer.notes = notes
        trainer.test_data = test
        return trainer

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: ClassifierRun
    ) -> TrainedClassifier:
        tokenizer, labels = saved_vocabularies(checkpoint, folder, config.model)
        model = saved_model(SequenceClassifier, config.model, checkpoint, folder)
        return TrainedClassifier(model, tokenizer, labels, config)

    def before_training(self, trainer: ClassifierTrainer, stop: StopRequest) -> bool:
        """Pretrain the encoder as a language model when ``pretrain_epochs`` asks for it."""
        if trainer.settings.pretrain_epochs == 0:
            return True
        return pretrain(trainer, stop)

    def check_saved(self, checkpoint: Checkpoint, folder: Path, config: ClassifierRun) -> None:
        saved_vocabularies(checkpoint, folder, config.model)

    def preparation(self, trainer: ClassifierTrainer) -> str:
        return "pretraining the encoder"

    def validation_figure(self, measures: dict[str, float], named: bool) -> str:
        """The accuracy, and beside it the balanced accuracy (the measure the best model
        is chosen by with ``class_weights="balanced"``) when MEASURES hold it."""
        figure = super().validation_figure(measures, named)
        if "balanced_accuracy" not in measures:  # measured by a version without it
            return figure
        return f"{figure} (balanced {measures['balanced_accuracy']:.2%})"

    def test_report(
        self, trained: TrainedClassifier, test: LabelledTexts, trainer: ClassifierTrainer
    ) -> list[str]:
        source = trainer.run_config.data.test
        encoded, _ = encode_labelled_texts(test, trained.tokenizer, trained.labels, source)
        _, report = evaluate_classifier(trained.model, encoded, trained.labels.labels)
        return [
            f"test accuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.4f} "
            f"({report['examples']} examples)"
        ]

    def summary(self, trainer: ClassifierTrainer) -> str:
        model, tokenizer = trainer.model, trainer.tokenizer
        return (
            f"training a {network(model, 'classifier')} ({model.pooling} pooling, hidden size "
            f"{model.hidden_size}, {model.num_parameters():,} parameters; time loops in "
            f"{model.encoder.engine}) on {data_sizes(trainer, 'examples')} of "
            f"{len(trainer.labels)} classes; {tokenizer.kind} vocabulary of "
            f"{tokenizer.vocab_size:,}"
        )


def parameter_count(model: SequenceClassifierConfig) -> int:
    """The parameters of the ``SequenceClassifier`` MODEL describes, without making it."""
    directions = 2 if model.bidirectional else 1
    encoder = recurrent_parameter_count(
        model.cell, model.embedding_size, model.hidden_size, model.num_layers, model.bidirectional
    )
    features = directions * model.hidden_size * (2 if model.pooling == "mean-max" else 1)
    embedding = (model.vocab_size + 1) * model.embedding_size  # and the padding row
    return embedding + encoder + (features + 1) * model.num_classes


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
    saved = saved_entry(checkpoint, folder, "labels")  # its own message when missing
    try:
        labels = LabelVocabulary(saved)
    except (TypeError, ValueError) as error:
        raise damaged(folder, f"labels: {error}") from None
    if (tokenizer.vocab_size, len(labels)) != (model.vocab_size, model.num_classes):
        raise damaged(
            folder,
            f"{tokenizer.vocab_size} tokens and {len(labels)} labels for a model of "
            f"{model.vocab_size} tokens and {model.num_classes} classes",
            "retrain",
        )
    return tokenizer, labels


def load_classifier(folder: str | os.PathLike[str]) -> TrainedClassifier:
    """The classifier saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    return ClassifierTask().load(folder)
