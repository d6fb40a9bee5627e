"""Checkpoint folders: named groups of arrays plus one JSON config, saved all or nothing.

A checkpoint folder holds::

    config.json             JSON: whatever the trainer wants to remember (architecture,
                            tokenizer, step, RNG states, ...), plus "checkpoint_id", "files"
                            and "sha256" (each file's SHA-256)
    <group>.safetensors     one file per group of arrays, e.g. model.safetensors and
                            optimizer.safetensors; tensors under PyTorch's names

Each file on its own is written atomically, but a checkpoint is several files, and a crash
between two of them would leave a new model beside an old optimizer. So a save is a small
journal:

1. every file is written (and fsynced) into a fresh hidden folder ``.staging-<id>/``;
2. that folder is renamed to ``.pending/``: the commit point, since a rename is atomic;
3. the files are moved from ``.pending/`` into the folder one by one (``os.replace``) and
   ``.pending/`` is removed.

Killed before step 2, a save leaves the previous checkpoint as it was (the staging folder
is litter the next save sweeps away). Killed during step 3, it leaves a complete
``.pending/``: loading reads from there, and the next save finishes the move first. Every
file carries the save's random ``checkpoint_id`` (in the safetensors metadata and in
config.json), so a mixture of two saves can never load as one checkpoint.

Loading verifies each file against the SHA-256 that config.json recorded for it (a
checkpoint saved before checksums existed has none, and loads unverified) and refuses
weights that are NaN or infinite (every group but the optimizer's, whose scheduler state
is infinite before the first validation): a one-line ``UserError`` naming the file, and
the tensor, instead of a model that samples garbage.

One process writes a folder at a time (``rnnkit.train.run_lock``); readers (``rnnkit
sample`` during training) may read at any moment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.atomic import fsync_folder, write_atomic
from rnnkit.errors import UserError
from rnnkit.weights import (
    check_finite,
    metadata_from_bytes,
    save_weights,
    sha256_hex,
    weights_from_bytes,
)

CONFIG_FILE = "config.json"
PENDING = ".pending"
STAGING_PREFIX = ".staging-"
ID_KEY = "checkpoint_id"
FILES_KEY = "files"
CHECKSUMS_KEY = "sha256"  # file name -> the SHA-256 of its bytes
# Groups whose arrays may be infinite: the scheduler's best value starts at inf.
MAY_BE_INFINITE = ("optimizer",)
LOAD_ATTEMPTS = 3  # a reader that loses a race with a finishing save simply reads again


@dataclass
class Checkpoint:
    """What a checkpoint folder holds: the config and the array groups by name."""

    config: dict[str, Any]
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def save_checkpoint(
    folder: str | os.PathLike[str],
    config: dict[str, Any],
    arrays: dict[str, dict[str, np.ndarray]],
) -> None:
    """Save CONFIG (JSON-ready) and ARRAYS (group name -> state dict) into FOLDER, atomically.

    The folder is created if needed. Files of an earlier checkpoint whose group is not in
    ARRAYS stay on disk but are no longer part of the checkpoint (config.json lists its files).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _finish_pending(folder)
    for litter in folder.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(litter, ignore_errors=True)

    checkpoint_id = secrets.token_hex(8)
    staging = folder / f"{STAGING_PREFIX}{checkpoint_id}"
    staging.mkdir()
    files = [f"{group}.safetensors" for group in arrays]
    checksums = {
        f"{group}.safetensors": save_weights(
            staging / f"{group}.safetensors", state, {ID_KEY: checkpoint_id}
        )
        for group, state in arrays.items()
    }
    stamped = {**config, ID_KEY: checkpoint_id, FILES_KEY: files, CHECKSUMS_KEY: checksums}
    write_atomic(staging / CONFIG_FILE, (json.dumps(stamped, indent=1) + "\n").encode())
    fsync_folder(staging)
    os.rename(staging, folder / PENDING)  # the commit point
    fsync_folder(folder)
    _finish_pending(folder)


def _finish_pending(folder: Path) -> None:
    """Move a committed save's files from ``.pending/`` into FOLDER, config.json last."""
    pending = folder / PENDING
    if not pending.is_dir():
        return
    names = sorted(p.name for p in pending.iterdir() if p.name != CONFIG_FILE)
    for name in [*names, CONFIG_FILE]:
        if (pending / name).exists():
            os.replace(pending / name, folder / name)
    fsync_folder(folder)
    shutil.rmtree(pending, ignore_errors=True)
    fsync_folder(folder)


def has_checkpoint(folder: str | os.PathLike[str]) -> bool:
    """Whether FOLDER looks like it holds a checkpoint (it may still be damaged)."""
    folder = Path(folder)
    return (folder / CONFIG_FILE).is_file() or (folder / PENDING / CONFIG_FILE).is_file()


def lost_config(folder: str | os.PathLike[str]) -> bool:
    """Whether FOLDER holds a checkpoint's weights files but no config.json: a checkpoint
    whose config.json was deleted, which must not pass for no checkpoint at all (a save
    writes its weights into a hidden staging folder, never beside a missing config.json)."""
    folder = Path(folder)
    return (
        folder.is_dir()
        and not has_checkpoint(folder)
        and any(_is_weights_name(p.name) for p in folder.glob("*.safetensors"))
    )


def load_checkpoint(folder: str | os.PathLike[str]) -> Checkpoint:
    """Read the checkpoint in FOLDER.

    Raises ``UserError`` (one line, naming the folder) when there is none, or when a file
    is missing, unreadable or from another save.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; give the run folder that training wrote")
    if lost_config(folder):
        raise UserError(
            f"the checkpoint in {folder} is damaged ({CONFIG_FILE} is missing); use another "
            "run folder, or train again"
        )
    if not has_checkpoint(folder):
        raise UserError(
            f"{folder} holds no checkpoint (no {CONFIG_FILE}); give the run folder that "
            "training wrote"
        )
    for _ in range(LOAD_ATTEMPTS):
        try:
            return _read(folder)
        except (FileNotFoundError, _TornCheckpointError) as error:
            problem = error  # a save may have moved files under us: read again
    raise UserError(
        f"the checkpoint in {folder} is damaged ({problem}); use another run folder, or "
        "train again"
    )


def _is_weights_name(name: object) -> bool:
    """Whether NAME can be a weights file of a checkpoint: ``<group>.safetensors``, no path."""
    return (
        isinstance(name, str)
        and name.endswith(".safetensors")
        and Path(name).name == name
        and "\\" not in name
    )


class _TornCheckpointError(Exception):
    """The files found belong to different saves."""


def _read(folder: Path) -> Checkpoint:
    def damaged(reason: str) -> UserError:
        return UserError(
            f"the checkpoint in {folder} is damaged ({reason}); use another run folder, or "
            "train again"
        )

    # A committed save still being moved out of .pending/: its config.json moves last, so
    # it is there; each other file is in .pending/ or already moved out.
    pending = folder / PENDING
    source = pending if (pending / CONFIG_FILE).is_file() else folder
    config_path = source / CONFIG_FILE
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise damaged(f"{CONFIG_FILE} is not valid JSON: {error}") from None
    if not isinstance(config, dict) or ID_KEY not in config or FILES_KEY not in config:
        raise damaged(f"{CONFIG_FILE} lacks {ID_KEY!r} or {FILES_KEY!r}")
    checkpoint_id = config.pop(ID_KEY)
    checksums = config.pop(CHECKSUMS_KEY, None) or {}  # none before checksums existed
    if not isinstance(checksums, dict):
        raise damaged(f"{CONFIG_FILE}: {CHECKSUMS_KEY!r} is not a mapping of file names")
    files = config.pop(FILES_KEY)
    if not isinstance(files, list) or not all(_is_weights_name(name) for name in files):
        raise damaged(f"{CONFIG_FILE}: {FILES_KEY!r} is not a list of weights file names")
    arrays = {}
    for name in files:
        path = source / name if (source / name).is_file() else folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{name} is missing")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise  # a save moved it under us: read again
        except OSError as error:
            raise damaged(f"{name}: {error.strerror or error}") from None
        written_by = (metadata_from_bytes(data) or {}).get(ID_KEY)
        expected = checksums.get(name)
        if expected is not None and sha256_hex(data) != expected:
            if written_by is not None and written_by != checkpoint_id:
                raise _TornCheckpointError(f"{name} was written by another save than {CONFIG_FILE}")
            raise damaged(
                f"{name} does not match the SHA-256 checksum {CONFIG_FILE} recorded for it: "
                "the file was changed or corrupted since it was saved"
            )
        try:
            state = weights_from_bytes(data, path)
        except ValueError as error:
            raise damaged(f"{name}: {str(error).splitlines()[0]}") from None
        if written_by != checkpoint_id:
            raise _TornCheckpointError(f"{name} was written by another save than {CONFIG_FILE}")
        group = name.removesuffix(".safetensors")
        if group not in MAY_BE_INFINITE:
            try:
                check_finite(state, path)
            except ValueError as error:
                raise damaged(f"{name}: {error}") from None
        arrays[group] = state
    return Checkpoint(config, arrays)


def load_weights_into(model: Any, checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> None:
    """The checkpoint's weights into MODEL, or a one-line error if they do not fit."""
    try:
        model.load_state_dict(checkpoint.arrays["model"])
    except (KeyError, ValueError) as error:
        raise UserError(
            f"the checkpoint in {folder} is damaged (its weights do not fit the model "
            f"settings in its {CONFIG_FILE}: {' '.join(str(error).split())}); restore the "
            "settings it was trained with, or retrain"
        ) from None
