"""Rebuilding a trained language model and its tokenizer from a run folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rnnkit.data.tokenizers import Tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.train.checkpoint import Checkpoint, has_checkpoint, load_checkpoint
from rnnkit.train.lm_trainer import BEST_FOLDER, FORMAT


def check_language_model_checkpoint(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> None:
    """Raise ``UserError`` unless CHECKPOINT was written by the language-model trainer."""
    kind = checkpoint.config.get("format")
    if kind != FORMAT:
        raise UserError(
            f"{folder} holds a {kind or 'unknown'} checkpoint, not a language model; "
            "give a run folder written by rnnkit train"
        )


def model_folder(run: str | os.PathLike[str]) -> Path:
    """The checkpoint to use from RUN: its ``best/`` model when it has one, else RUN itself."""
    run = Path(run)
    return run / BEST_FOLDER if has_checkpoint(run / BEST_FOLDER) else run


def load_language_model(
    folder: str | os.PathLike[str],
) -> tuple[LanguageModel, Tokenizer, dict[str, Any]]:
    """The model (in evaluation mode), its tokenizer and the config saved in FOLDER."""
    checkpoint = load_checkpoint(folder)
    check_language_model_checkpoint(checkpoint, folder)
    config = checkpoint.config
    model = LanguageModel(**config["model"])
    try:
        model.load_state_dict(checkpoint.arrays["model"])
    except (KeyError, ValueError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged (its weights do not fit its config: "
            f"{str(error).splitlines()[0]}); retrain or use another run folder"
        ) from None
    return model.eval(), tokenizer_from_dict(config["tokenizer"]), config
