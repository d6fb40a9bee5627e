"""config.json of a run folder: which task wrote it, and its settings, read back checked.

Every checkpoint's config.json starts with::

    {"format": "rnnkit.run", "version": 2, "task": "lm", "config": {"data": ...,
     "model": ..., "training": ...}, ...}

``config`` is the task's settings dataclass (``rnnkit.config.to_dict``); the rest is what
the trainer keeps (progress, random state, tokenizer, ...). Reading it back checks every
field, so a folder from another version of rnnkit, or an edited or damaged file, is one
error that names the problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.config import ConfigError, from_dict
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import Checkpoint, has_checkpoint

BEST_FOLDER = "best"
RUN_FORMAT = "rnnkit.run"
RUN_VERSION = 2

T = TypeVar("T")


def saved_task(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> str:
    """The name of the task whose run wrote CHECKPOINT; UserError if it is no such run."""
    config = checkpoint.config
    kind, version = config.get("format"), config.get("version")
    if (kind, version) != (RUN_FORMAT, RUN_VERSION) or not isinstance(config.get("task"), str):
        written = f"{kind} version {version}" if kind else "an unknown format"
        raise UserError(
            f"{folder} holds a checkpoint in {written}, which this version of rnnkit does "
            f"not read ({RUN_FORMAT} version {RUN_VERSION}); retrain, or use the rnnkit "
            "version that wrote it"
        )
    return config["task"]


def saved_config(checkpoint: Checkpoint, folder: str | os.PathLike[str], cls: type[T]) -> T:
    """The run's settings, checked field by field against CLS."""
    try:
        return from_dict(cls, checkpoint.config.get("config"))
    except ConfigError as error:
        raise UserError(
            f"{folder}/config.json was edited or damaged: setting {error}; restore it or retrain"
        ) from None


def saved_entry(checkpoint: Checkpoint, folder: str | os.PathLike[str], key: str) -> Any:
    """Another entry of config.json (a tokenizer, labels), or a one-line error if missing."""
    try:
        return checkpoint.config[key]
    except KeyError:
        raise UserError(
            f"{folder}/config.json was edited or damaged: it has no {key!r}; restore it or retrain"
        ) from None


def model_folder(run: str | os.PathLike[str]) -> Path:
    """The checkpoint to use from RUN: its ``best/`` model when it has one, else RUN itself."""
    run = Path(run)
    return run / BEST_FOLDER if has_checkpoint(run / BEST_FOLDER) else run
