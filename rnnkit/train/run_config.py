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

import json
import math
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.config import ConfigError, base_type, from_dict, settings
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import (
    CONFIG_FILE,
    PENDING,
    Checkpoint,
    has_checkpoint,
    lost_config,
)

BEST_FOLDER = "best"
RUN_FORMAT = "rnnkit.run"
RUN_VERSION = 2

T = TypeVar("T")


def saved_task(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> str:
    """The name of the task whose run wrote CHECKPOINT; UserError if it is no such run."""
    config = checkpoint.config
    kind, version = config.get("format"), config.get("version")
    if (kind, version) == (RUN_FORMAT, RUN_VERSION) and not isinstance(config.get("task"), str):
        # the format is this rnnkit's own: the task was edited away, not written by another
        task = config.get("task")
        raise damaged(
            folder,
            "it has no 'task'" if task is None else f"its 'task' is not a task name ({task!r})",
        )
    if (kind, version) != (RUN_FORMAT, RUN_VERSION):
        written = f"{kind} version {version}" if kind else "an unknown format"
        raise UserError(
            f"{folder} holds a checkpoint in {written}, which this version of rnnkit does "
            f"not read ({RUN_FORMAT} version {RUN_VERSION}); retrain, or use the rnnkit "
            "version that wrote it"
        )
    return config["task"]


def saved_config(checkpoint: Checkpoint, folder: str | os.PathLike[str], cls: type[T]) -> T:
    """The run's settings, checked field by field against CLS."""
    data = saved_entry(checkpoint, folder, "config")
    if not isinstance(data, dict):
        raise damaged(folder, "its 'config' is not an object")
    try:
        return from_dict(cls, data)
    except ConfigError as error:
        raise damaged(folder, f"setting {error}") from None


def saved_progress(checkpoint: Checkpoint, folder: str | os.PathLike[str], cls: type[T]) -> T:
    """The run's ``progress`` as the dataclass CLS (a ``TrainingProgress``), every field
    checked: counts are whole numbers from 0, times finite numbers from 0, measures objects
    of finite numbers. Keys CLS does not have are left out (``rnnkit info`` reads any task's
    progress as the fields every task has)."""
    data = saved_entry(checkpoint, folder, "progress")
    if not isinstance(data, dict):
        raise damaged(folder, f"progress: expected an object, got {data!r}")
    values = {}
    for field, kind in settings(cls):
        name = f"progress.{field.name}"
        if field.name not in data:
            raise damaged(folder, f"{name}: missing")
        value, (kind, optional) = data[field.name], base_type(kind)
        if value is None and optional:
            values[field.name] = None
        elif kind is int or kind is float:
            if not is_number(value, kind) or value < 0:
                what = "a whole number" if kind is int else "a number"
                raise damaged(folder, f"{name}: expected {what} from 0, got {value!r}")
            values[field.name] = value
        elif typing.get_origin(kind) is dict:
            if not isinstance(value, dict) or not all(
                isinstance(key, str) and is_number(number, float) for key, number in value.items()
            ):
                raise damaged(folder, f"{name}: expected an object of numbers, got {value!r}")
            values[field.name] = value
        else:
            raise damaged(folder, f"{name}: unexpected {value!r}")
    return cls(**values)


def is_number(value: Any, kind: type) -> bool:
    """Whether VALUE is a finite number of KIND (an int for int; an int or float for float)."""
    if isinstance(value, bool):
        return False
    if kind is int:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


# How every message about a hand-edited or damaged config.json begins (after its folder):
# such a message names the file's keys, which the command line leaves as they are.
EDITED_CONFIG = "config.json was edited or damaged: "


def damaged(
    folder: str | os.PathLike[str], what: str, fix: str = "restore it or retrain"
) -> UserError:
    """The one-line error for FOLDER's config.json found edited or damaged: WHAT is wrong,
    then FIX."""
    return UserError(f"{folder}/{EDITED_CONFIG}{what}; {fix}")


def saved_entry(checkpoint: Checkpoint, folder: str | os.PathLike[str], key: str) -> Any:
    """Another entry of config.json (a tokenizer, labels), or a one-line error if missing."""
    try:
        return checkpoint.config[key]
    except KeyError:
        raise damaged(folder, f"it has no {key!r}") from None


def model_folder(run: str | os.PathLike[str]) -> Path:
    """The checkpoint to use from RUN: its ``best/`` model when it has one, else RUN itself.

    A ``best/`` that is not of RUN's own run (copied in from another one: another task, or
    other data) is refused, since the commands would answer with a model the run never
    trained; a damaged config.json is left for the loading to report.
    """
    run = Path(run)
    best = run / BEST_FOLDER
    if lost_config(best):
        # not the run's last weights unasked: the user may not know that best/ is broken
        raise UserError(
            f"the checkpoint in {best} is damaged ({CONFIG_FILE} is missing); move it out of "
            f"{run} to use the run's last model, or train again"
        )
    if not has_checkpoint(best):
        return run
    ours, theirs = _stamp(run), _stamp(best)
    if ours is not None and theirs is not None and ours != theirs:
        trained = (
            f"holds a model of task {theirs[0]!r}, not {ours[0]!r} as"
            if ours[0] != theirs[0]
            else "was trained on other data than"
        )
        raise UserError(
            f"{best} {trained} the run in {run}: it is another run's model; move it out of "
            f"{run}, or give {best} itself to use it"
        )
    return best


def _stamp(folder: Path) -> tuple[Any, Any] | None:
    """``(task, data_sha256)`` of FOLDER's config.json (or of the save being moved out of
    ``.pending/``), or None when it cannot be read as such."""
    for config_file in (folder / CONFIG_FILE, folder / PENDING / CONFIG_FILE):
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(config, dict) and "task" in config and "data_sha256" in config:
            return config["task"], config["data_sha256"]
    return None
