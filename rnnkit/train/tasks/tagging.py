"""The tagging task: sentences with a tag per word in, a model that tags every word out.

Sentences come from CoNLL-U treebanks (the tag in ``column``: upos, xpos or deprel) or
whitespace column files (token first, tag last, as CoNLL-2000/2003). The word, character
and tag vocabularies are fitted to the training sentences, and a ``TaggerTrainer`` trains
a ``SequenceTagger``. With ``test`` set, the best model is measured on the test sentences
at the end. ``load_tagger`` brings a trained model back; ``tag_sentences`` and
``evaluate_tagged`` are what ``rnnkit predict`` and ``rnnkit eval`` call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.conll import CONLLU_COLUMNS, FORMATS, TaggedSentences, read_tagged
from rnnkit.data.fingerprint import fingerprint
from rnnkit.data.tagging import TaggingVocabulary, encode_sentences, encode_tagged
from rnnkit.errors import UserError
from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint
from rnnkit.train.run_config import model_folder, saved_config, saved_entry, saved_task
from rnnkit.train.tagger_trainer import (
    TaggerSettings,
    TaggerTrainer,
    evaluate_tagger,
    seqeval_installed,
    tag_encoded,
)
from rnnkit.train.task import Task
from rnnkit.train.tasks.classifier import absolute
from rnnkit.train.tasks.language_model import load_weights_into


@dataclass
class TaggingData:
    """Where the tagged sentences come from and how their words become ids."""

    train: str | None = option(
        None, "training sentences (a .conllu or column file)", on_resume=CHANGEABLE, metavar="PATH"
    )
    valid: str | None = option(
        None,
        "validation sentences (default: a seeded val_fraction of the training sentences)",
        on_resume=CHANGEABLE,
        metavar="PATH",
    )
    test: str | None = option(
        None,
        "test sentences, measured with the best model at the end",
        on_resume=CHANGEABLE,
        metavar="PATH",
    )
    format: str = option(
        "auto",
        "conllu: CoNLL-U; columns: token first, tag last, a blank line between sentences; "
        "auto: conllu for .conllu files",
        choices=FORMATS,
    )
    column: str = option(
        "upos", "conllu: the column that holds the tags", choices=tuple(CONLLU_COLUMNS)
    )
    encoding: str = option("utf-8", "the files' encoding")
    val_fraction: float = option(
        0.1, "without valid: the share of training sentences held out", minimum=0, below=1
    )
    min_count: int = option(1, "words seen fewer times in training are <unk>", minimum=1)
    lowercase: bool = option(False, "fold words to lower case (characters keep their case)")
    max_length: int = option(
        500, "the longest sentence accepted, in words", minimum=1, maximum=1 << 20
    )


@dataclass
class TaggingRun:
    """Everything a tagging run is: config.json's "config"."""

    data: TaggingData = field(default_factory=TaggingData)
    model: SequenceTaggerConfig = field(default_factory=SequenceTaggerConfig)
    training: TaggerSettings = field(default_factory=TaggerSettings)


@dataclass
class TrainedTagger:
    """A trained tagger (in evaluation mode), its vocabularies and the run's settings."""

    model: SequenceTagger
    vocabulary: TaggingVocabulary
    config: TaggingRun


def read_sentences(data: TaggingData, path: str) -> TaggedSentences:
    return read_tagged(path, data.format, data.column, data.encoding)


def split_sentences(
    data: TaggedSentences, fraction: float, seed: int
) -> tuple[TaggedSentences, TaggedSentences]:
    """``(rest, held_out)``: a seeded random FRACTION of the sentences held out."""
    held = int(round(fraction * len(data)))
    if held < 1 or held >= len(data):
        raise UserError(
            f"{len(data)} sentences are too few to hold out {fraction:.0%} for validation; "
            "give more sentences or a separate valid file"
        )
    order = np.random.default_rng(seed).permutation(len(data))
    parts = []
    for indices in (np.sort(order[held:]), np.sort(order[:held])):
        part = TaggedSentences()
        for i in indices:
            part.add(data.tokens[i], data.tags[i], data.origins[i])
        parts.append(part)
    return parts[0], parts[1]


def sentences_fingerprint(*sets: TaggedSentences) -> str:
    """A digest of the sentences, to check that a resumed run reads the same ones."""
    return fingerprint(
        "\n\n".join(
            "\n".join(f"{w}\t{t}" for w, t in zip(words, tags, strict=True))
            for data in sets
            for words, tags in zip(data.tokens, data.tags, strict=True)
        )
    )


class TaggingTask(Task):
    name = "tag"
    title = "sequence tagger"
    config_class = TaggingRun

    def build(
        self, config: TaggingRun, folder: Path, checkpoint: Checkpoint | None
    ) -> TaggerTrainer:
        data, settings = config.data, config.training
        for name in ("train", "valid", "test"):
            setattr(data, name, absolute(getattr(data, name)))
        if data.train is None:
            raise UserError("train is needed: the tagged sentences to learn from")
        train = read_sentences(data, data.train)
        if data.valid is not None:
            valid = read_sentences(data, data.valid)
        else:
            train, valid = split_sentences(train, data.val_fraction, settings.seed)
        digest = sentences_fingerprint(train, valid)
        test = None if data.test is None else read_sentences(data, data.test)
        if checkpoint is None:
            held_out = [t for s in valid.tags for t in s] if data.valid is None else []
            vocabulary = TaggingVocabulary.fit(
                train, data.train, data.min_count, data.lowercase, held_out
            )
        else:
            if digest != saved_entry(checkpoint, folder, "data_sha256"):
                raise UserError(
                    f"the sentences of {data.train} differ from those the run in {folder} "
                    "started on; resuming needs the same sentences, so start a new run"
                )
            vocabulary = saved_vocabulary(checkpoint, folder)
        config.model.vocab_size = len(vocabulary.words)
        config.model.num_tags = len(vocabulary.tags)
        config.model.char_vocab_size = len(vocabulary.chars) if config.model.char_hidden_size else 0
        model = SequenceTagger.from_config(config.model, rng=settings.seed)
        encoded = [
            encode_tagged(part, vocabulary, source, data.max_length)
            for part, source in ((train, data.train), (valid, data.valid or data.train))
        ]
        if test is not None:  # refuse unknown tags and long sentences now, not after training
            encode_tagged(test, vocabulary, data.test, data.max_length)
        trainer = TaggerTrainer(
            model, vocabulary, *encoded, settings, folder, {"data_sha256": digest}
        )
        trainer.run_config = config
        trainer.test_sentences = test
        return trainer

    def summary(self, trainer: TaggerTrainer) -> str:
        model, vocabulary = trainer.model, trainer.vocabulary
        chars = (
            f" + {model.char_hidden_size}-unit character encoder" if model.char_hidden_size else ""
        )
        return (
            f"training a {model.num_layers}-layer "
            f"{'bidirectional ' if model.bidirectional else ''}{model.cell.upper()} tagger"
            f"{chars}{' with a CRF' if model.use_crf else ''} ({model.num_parameters():,} "
            f"parameters) on {len(trainer.train_set):,} training and "
            f"{len(trainer.valid_set):,} validation sentences; {len(vocabulary.words):,} words, "
            f"{len(vocabulary.chars):,} characters, {len(vocabulary.tags)} tags"
        )

    def report(self, trainer: TaggerTrainer) -> list[str]:
        progress, lines = trainer.progress, []
        if progress.best is not None:
            lines.append(
                f"validation token accuracy {progress.val['accuracy']:.2%}; best "
                f"{progress.best['accuracy']:.2%} at step {progress.best_step}"
            )
        test = getattr(trainer, "test_sentences", None)
        if test is not None:
            trained = load_tagger(model_folder(trainer.folder))
            source = trainer.run_config.data.test
            report = evaluate_tagged(trained, test, source, spans=seqeval_installed())
            span = report.get("spans")
            extra = f", span F1 {span['f1']:.4f}" if span else ""
            lines.append(
                f"test token accuracy {report['token_accuracy']:.2%}{extra} "
                f"({report['tokens']:,} tokens)"
            )
        return lines

    def load(self, folder: Path) -> TrainedTagger:
        return load_tagger(folder)


def saved_vocabulary(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> TaggingVocabulary:
    try:
        return TaggingVocabulary.from_dict(saved_entry(checkpoint, folder, "vocabulary"))
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"{folder}/config.json was edited or damaged: its vocabulary does not load "
            f"({' '.join(str(error).split())}); restore it or retrain"
        ) from None


def load_tagger(folder: str | os.PathLike[str]) -> TrainedTagger:
    """The tagger saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    checkpoint = load_checkpoint(folder)
    task = saved_task(checkpoint, folder)
    if task != TaggingTask.name:
        raise UserError(
            f"{folder} holds a {task} run, not a sequence tagger; give the run folder of "
            "a tagger (task tag)"
        )
    config = saved_config(checkpoint, folder, TaggingRun)
    vocabulary = saved_vocabulary(checkpoint, folder)
    model_config = config.model
    sizes = (len(vocabulary.words), len(vocabulary.tags))
    if sizes != (model_config.vocab_size, model_config.num_tags):
        raise UserError(
            f"{folder}/config.json was edited or damaged: {sizes[0]} words and {sizes[1]} "
            f"tags for a model of {model_config.vocab_size} words and {model_config.num_tags} "
            "tags; retrain"
        )
    model = SequenceTagger.from_config(model_config)
    load_weights_into(model, checkpoint, folder)
    return TrainedTagger(model.eval(), vocabulary, config)


def tag_sentences(trained: TrainedTagger, sentences: list[list[str]]) -> list[list[str]]:
    """The tags of each word of SENTENCES (lists of words)."""
    encoded = encode_sentences(sentences, trained.vocabulary, source="the input")
    predicted, _ = tag_encoded(trained.model, encoded)
    names = trained.vocabulary.tags.labels
    return [[names[i] for i in sentence] for sentence in predicted]


def evaluate_tagged(
    trained: TrainedTagger, data: TaggedSentences, source: str, spans: bool = True
) -> dict[str, Any]:
    """The ``tagging_report`` of TRAINED on DATA (read from SOURCE), with its ``loss``.

    A tag the model was not trained on is a ``UserError`` naming SOURCE. With SPANS, a span
    tag set also gets span figures, which need ``seqeval`` (a clear error without it).
    """
    encoded = encode_tagged(data, trained.vocabulary, source, trained.config.data.max_length)
    loss, report = evaluate_tagger(trained.model, encoded, trained.vocabulary, spans)
    return {"loss": loss, **report}
