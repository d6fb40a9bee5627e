"""The data settings several tasks share, and the tokenizer they fit and save.

A task's data section (``ClassifierData``, ``LanguageModelData``, ...) is its own dataclass,
so its flags keep their order and their task's wording; the fields that mean the same in
every task are made here: a path that may change on resume, the encoding, the share held
out for validation, and the word tokenizer's vocabulary limits. ``example_files`` makes
the first fields of a section read from training, validation and test files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from rnnkit.config import CHANGEABLE, option
from rnnkit.data.text import is_codec
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.train.checkpoint import Checkpoint
from rnnkit.train.run_config import damaged, saved_entry


def check_encoding(name: str) -> str | None:
    """Why NAME is no text encoding Python knows, or None."""
    if is_codec(name):
        return None
    return f"no such text encoding: {name!r} (e.g. utf-8, latin-1, utf-16)"


def path_option(help: str, metavar: str = "PATH") -> Any:
    """A file or folder to read, None by default; a resume may name it anew (it is checked
    by the data's fingerprint, not by its path)."""
    return option(None, help, on_resume=CHANGEABLE, metavar=metavar, path=True)


def example_files(
    train_help: str, what: str, held_out: str, formats: tuple[str, ...], format_help: str
) -> type:
    """The base of a data section whose examples come from files: ``train`` (TRAIN_HELP),
    ``valid`` (by default a seeded ``val_fraction`` of the training HELD_OUT is held out
    instead), ``test`` (WHAT, measured at the end) and their ``format``, one of FORMATS
    ("auto" by default). The section adds its own fields after these."""

    @dataclass
    class ExampleFiles:
        __doc__ = f"Where the {what} come from: training, validation and test files."

        train: str | None = path_option(train_help)
        valid: str | None = path_option(
            f"validation {what} (default: a seeded val_fraction of the training {held_out})"
        )
        test: str | None = path_option(f"test {what}, measured with the best model at the end")
        format: str = option("auto", format_help, choices=formats)

    return ExampleFiles


def encoding_option(help: str, check: Callable[[str], str | None] | None = None) -> Any:
    """The ``encoding`` of the data files, utf-8 by default."""
    return option("utf-8", help, check=check)


def val_fraction_option(help: str) -> Any:
    """The ``val_fraction`` held out of the training data for validation, 0.1 by default."""
    return option(0.1, help, minimum=0, below=1)


def max_vocab_option() -> Any:
    return option(None, "word tokenizer: keep the N most frequent words", minimum=1, metavar="N")


def min_count_option() -> Any:
    return option(None, "word tokenizer: words seen fewer times are <unk>", minimum=1, metavar="N")


class TokenizerData(Protocol):
    """A data section with a ``tokenizer`` kind and the word tokenizer's limits."""

    tokenizer: str
    max_vocab: int | None
    min_count: int | None


def fit_tokenizer(data: TokenizerData, text: str | Iterable[str]) -> Tokenizer:
    """The tokenizer DATA describes, fitted to TEXT (or the pieces of one, as a
    ``TextStream`` reads them)."""
    options = {
        name: getattr(data, name)
        for name in ("max_vocab", "min_count")
        if getattr(data, name) is not None
    }
    if options and data.tokenizer != "word":
        raise UserError("max_vocab and min_count apply to the word tokenizer only")
    return make_tokenizer(data.tokenizer, **options).fit(text)


def load_saved_tokenizer(checkpoint: Checkpoint, folder: str | os.PathLike[str]) -> Tokenizer:
    """The tokenizer saved in CHECKPOINT's config.json, or a one-line error."""
    saved = saved_entry(checkpoint, folder, "tokenizer")  # its own message when missing
    try:
        return tokenizer_from_dict(saved)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise damaged(
            folder, f"its tokenizer does not load ({' '.join(str(error).split())})"
        ) from None
