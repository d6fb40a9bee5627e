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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.config import option
from rnnkit.data.conll import CONLLU_COLUMNS, FORMATS, TaggedSentences, read_tagged
from rnnkit.data.tagging import TaggingVocabulary, encode_sentences, encode_tagged
from rnnkit.errors import quoted
from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.nn.recurrent import recurrent_parameter_count
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.data_options import (
    check_encoding,
    encoding_option,
    example_files,
    val_fraction_option,
)
from rnnkit.train.memory import check_fits, check_saved_fits, training_bytes
from rnnkit.train.run_config import damaged, saved_entry
from rnnkit.train.tagger_trainer import (
    TaggerSettings,
    TaggerTrainer,
    evaluate_tagger,
    seqeval_installed,
    tag_encoded,
)
from rnnkit.train.task import (
    Task,
    build_model,
    data_sizes,
    network,
    run_config_class,
    saved_model,
    time_loops,
)


@dataclass
class TaggingData(
    example_files(
        "training sentences (a .conllu or column file)",
        "sentences",
        "sentences",
        FORMATS,
        "conllu: CoNLL-U; columns: token first, tag last, a blank line between sentences; "
        "auto: conllu for .conllu files and files whose lines are CoNLL-U's",
    )
):
    """Where the tagged sentences come from and how their words become ids."""

    column: str = option(
        "upos", "conllu: the column that holds the tags", choices=tuple(CONLLU_COLUMNS)
    )
    encoding: str = encoding_option("the files' encoding", check=check_encoding)
    val_fraction: float = val_fraction_option(
        "without valid: the share of training sentences held out"
    )
    min_count: int = option(1, "words seen fewer times in training are <unk>", minimum=1)
    # Folding helps the word vectors of rare capitalised forms (UD English-LinES dev).
    lowercase: bool = option(True, "fold words to lower case (characters keep their case)")
    max_length: int = option(
        500,
        "the longest training or validation sentence accepted, in words (eval and predict "
        "tag any length)",
        minimum=1,
        maximum=1 << 20,
    )


TaggingRun = run_config_class(
    "TaggingRun", "tagging", TaggingData, SequenceTaggerConfig, TaggerSettings
)


@dataclass
class TrainedTagger:
    """A trained tagger (in evaluation mode), its vocabularies and the run's settings."""

    model: SequenceTagger
    vocabulary: TaggingVocabulary
    config: TaggingRun


class TaggingTask(Task, name="tag", title="sequence tagger", config_class=TaggingRun):
    """Tagged sentences in (CoNLL-U or column files), a tagger out that gives every word
    its tag (part of speech, chunk, entity)."""

    figure = ("token accuracy", "accuracy", ".2%")
    examples = "tagged sentences"

    def read_examples(self, config: TaggingRun, part: str) -> TaggedSentences:
        data = config.data
        return read_tagged(getattr(data, part), data.format, data.column, data.encoding)

    def build(
        self, config: TaggingRun, folder: Path, checkpoint: Checkpoint | None
    ) -> TaggerTrainer:
        data, settings = config.data, config.training
        train, valid, test, digest = self.read_data(config, folder, checkpoint)
        if checkpoint is None:
            held_out = [t for s in valid.tags for t in s] if data.valid is None else []
            vocabulary = TaggingVocabulary.fit(
                train, data.train, data.min_count, data.lowercase, held_out
            )
        else:
            vocabulary = saved_vocabulary(checkpoint, folder)
        config.model.vocab_size = len(vocabulary.words)
        config.model.num_tags = len(vocabulary.tags)
        config.model.char_vocab_size = len(vocabulary.chars) if config.model.char_hidden_size else 0
        check_fits(
            training_bytes(parameter_count(config.model), 0),
            "training this tagger",
            "hidden_size, num_layers, embedding_size, char_hidden_size or the vocabulary "
            "(min_count)",
        )
        # resuming, the vocabulary comes from config.json, which may have been edited
        model = build_model(
            SequenceTagger, config.model, settings.seed, folder if checkpoint else None
        )
        encoded = [
            encode_tagged(part, vocabulary, source, data.max_length)
            for part, source in ((train, data.train), (valid, data.valid or data.train))
        ]
        if test is not None:  # refuse unknown tags now, not after training
            encode_tagged(test, vocabulary, data.test)
        trainer = TaggerTrainer(
            model, vocabulary, *encoded, settings, folder, {"data_sha256": digest}
        )
        trainer.test_data = test
        return trainer

    def restore(
        self, checkpoint: Checkpoint, folder: str | os.PathLike[str], config: TaggingRun
    ) -> TrainedTagger:
        vocabulary = saved_vocabulary(checkpoint, folder)
        model_config = config.model
        # the characters as build counts them: none without a character encoder
        chars = len(vocabulary.chars) if model_config.char_hidden_size else 0
        sizes = (len(vocabulary.words), chars, len(vocabulary.tags))
        expected = (model_config.vocab_size, model_config.char_vocab_size, model_config.num_tags)
        if sizes != expected:
            raise damaged(
                folder,
                f"the vocabulary has {vocabulary_sizes(*sizes)} for a model of "
                f"{vocabulary_sizes(*expected)} (model.vocab_size, model.char_vocab_size, "
                "model.num_tags)",
            )
        check_saved_fits(parameter_count(model_config), folder)
        model = saved_model(SequenceTagger, model_config, checkpoint, folder)
        return TrainedTagger(model, vocabulary, config)

    def test_report(
        self, trained: TrainedTagger, test: TaggedSentences, trainer: TaggerTrainer
    ) -> list[str]:
        source = trainer.run_config.data.test
        report = evaluate_tagged(trained, test, source, spans=seqeval_installed())
        span = report.get("spans")
        extra = f", span F1 {span['f1']:.4f}" if span else ""
        return [
            f"test token accuracy {report['token_accuracy']:.2%}{extra} "
            f"({report['tokens']:,} tokens)"
        ]

    def summary(self, trainer: TaggerTrainer) -> str:
        model, vocabulary = trainer.model, trainer.vocabulary
        chars = (
            f" + {model.char_hidden_size}-unit character encoder" if model.char_hidden_size else ""
        )
        crf = " with a CRF" if model.use_crf else ""
        return (
            f"training a {network(model, 'tagger')}{chars}{crf} ({model.num_parameters():,} "
            f"parameters; time loops in {time_loops(model)}) on "
            f"{data_sizes(trainer, 'sentences')}; {len(vocabulary.words):,} "
            f"words, {len(vocabulary.chars):,} characters, {len(vocabulary.tags)} tags"
        )


def parameter_count(model: SequenceTaggerConfig) -> int:
    """The parameters of the ``SequenceTagger`` MODEL describes, without making it."""
    embedding = (model.vocab_size + 1) * model.embedding_size  # and the padding row
    features, chars = model.embedding_size, 0
    if model.char_hidden_size > 0:
        chars = (model.char_vocab_size + 1) * model.char_embedding_size + (
            recurrent_parameter_count(
                model.cell, model.char_embedding_size, model.char_hidden_size, 1, True
            )
        )
        features += 2 * model.char_hidden_size
    encoder = recurrent_parameter_count(
        model.cell, features, model.hidden_size, model.num_layers, model.bidirectional
    )
    tags = model.num_tags
    outputs = (2 if model.bidirectional else 1) * model.hidden_size
    crf = tags * tags + 2 * tags if model.crf else 0
    return embedding + chars + encoder + (outputs + 1) * tags + crf


def vocabulary_sizes(words: int, chars: int, tags: int) -> str:
    return f"{words} words, {chars} characters and {tags} tags"


def saved_vocabulary(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> TaggingVocabulary:
    saved = saved_entry(checkpoint, folder, "vocabulary")  # its own message when missing
    if not isinstance(saved, dict):
        raise damaged(folder, f"vocabulary: expected an object, got {quoted(str(saved))}")
    try:
        return TaggingVocabulary.from_dict(saved)
    except ValueError as error:
        raise damaged(folder, f"vocabulary.{' '.join(str(error).split())}") from None


def load_tagger(folder: str | os.PathLike[str]) -> TrainedTagger:
    """The tagger saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    return TaggingTask().load(folder)


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
    Sentences of any length are tagged, as ``tag_sentences`` tags them: ``max_length``
    bounds the training data only.
    """
    encoded = encode_tagged(data, trained.vocabulary, source)
    loss, report = evaluate_tagger(trained.model, encoded, trained.vocabulary, spans)
    return {"loss": loss, **report}
