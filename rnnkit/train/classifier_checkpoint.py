"""Rebuilding a trained sequence classifier, its tokenizer and its labels from a run folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from rnnkit.data.classification import LabelVocabulary
from rnnkit.data.tokenizers import Tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import SequenceClassifier
from rnnkit.train.checkpoint import Checkpoint, load_checkpoint
from rnnkit.train.classifier_trainer import FORMAT


@dataclass
class TrainedClassifier:
    """What ``rnnkit predict`` and ``rnnkit eval`` need: the model (in evaluation mode),
    the tokenizer that feeds it, its classes, and the config it was saved with."""

    model: SequenceClassifier
    tokenizer: Tokenizer
    labels: LabelVocabulary
    config: dict[str, Any]


def is_classifier_checkpoint(checkpoint: Checkpoint) -> bool:
    return checkpoint.config.get("format") == FORMAT


def check_classifier_checkpoint(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> None:
    """Raise ``UserError`` unless CHECKPOINT was written by the classifier trainer."""
    if not is_classifier_checkpoint(checkpoint):
        kind = checkpoint.config.get("format")
        raise UserError(
            f"{folder} holds a {kind or 'unknown'} checkpoint, not a sequence classifier; "
            "give a run folder written by rnnkit train-classifier"
        )


def load_classifier(folder: str | os.PathLike[str]) -> TrainedClassifier:
    """The classifier saved in FOLDER (a checkpoint folder such as ``RUN/best``)."""
    checkpoint = load_checkpoint(folder)
    check_classifier_checkpoint(checkpoint, folder)
    config = checkpoint.config
    try:
        model = SequenceClassifier(**config["model"])
        model.load_state_dict(checkpoint.arrays["model"])
        tokenizer = tokenizer_from_dict(config["tokenizer"])
        labels = LabelVocabulary(config["labels"])
        if (tokenizer.vocab_size, len(labels)) != (model.vocab_size, model.num_classes):
            raise ValueError(
                f"{tokenizer.vocab_size} tokens and {len(labels)} labels for a model of "
                f"{model.vocab_size} tokens and {model.num_classes} classes"
            )
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged (its weights or settings do not fit its "
            f"config: {' '.join(str(error).split())}); retrain or use another run folder"
        ) from None
    return TrainedClassifier(model.eval(), tokenizer, labels, config)
