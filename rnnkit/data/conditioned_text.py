"""Texts with the condition each was written under: a category, or a vector of numbers.

Formats:

- a folder of one file per category, one text per line, the category named after the file
  (``Korean.txt`` -> ``Korean``: the surnames data set); read by
  ``rnnkit.data.classification``'s ``folders`` reader, so its rules hold (no blank lines).
- TSV, ``condition<TAB>text`` on every line, no header. With ``kind="vector"`` the condition
  is a row of numbers separated by spaces or commas (``0.5 1 -2``), the same count on
  every line.
- a text file, one text per line, and a NumPy ``.npy`` matrix with one feature row per
  line (precomputed image features, as for captioning); a 1-D array is one number per line.

Every error is a ``UserError`` naming the file (and the line, where there is one).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnkit.data.classification import read_labelled_texts
from rnnkit.data.held_out import held_out_indices
from rnnkit.data.text import read_text
from rnnkit.errors import SettingError, UserError, quoted

KINDS = ("category", "vector")
MAX_NAMED = 20  # how many categories an error message lists
NPY_MAGIC = b"\x93NUMPY"  # how every .npy file starts


@dataclass
class ConditionedTexts:
    """``texts[i]`` was written under ``conditions[i]`` (a category name) or ``features[i]``
    (a row of numbers); the other is None. ``origins[i]`` is where it came from."""

    texts: list[str]
    origins: list[str]
    conditions: list[str] | None = None
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def lines(self) -> Iterator[str]:
        """Each text as ``condition<TAB>text``, a feature row written as its numbers, the
        form a data fingerprint reads."""
        conditions = self.conditions
        if conditions is None:
            conditions = [" ".join(repr(float(x)) for x in row) for row in self.features]
        return (f"{c}\t{t}" for c, t in zip(conditions, self.texts, strict=True))

    def subset(self, indices: Sequence[int] | np.ndarray) -> ConditionedTexts:
        return ConditionedTexts(
            [self.texts[i] for i in indices],
            [self.origins[i] for i in indices],
            None if self.conditions is None else [self.conditions[i] for i in indices],
            None if self.features is None else self.features[np.asarray(indices, dtype=np.int64)],
        )

    def hold_out(self, fraction: float, seed: int) -> tuple[ConditionedTexts, ConditionedTexts]:
        """``(rest, held_out)``: a seeded random FRACTION of the texts held out."""
        rest, held = held_out_indices(len(self), fraction, seed, "texts", "texts", "valid")
        return self.subset(rest), self.subset(held)

    @property
    def categories(self) -> list[str]:
        """The distinct categories, sorted (empty for feature vectors)."""
        return sorted(set(self.conditions or []))


def read_category_folder(path: str | os.PathLike[str], encoding: str = "utf-8") -> ConditionedTexts:
    """The texts of a folder of one file per category (see the module docstring)."""
    if not Path(path).is_dir():
        raise UserError(f"{path} is not a folder of one file per category; check the path")
    data = read_labelled_texts(path, "folders", encoding=encoding)
    return ConditionedTexts(data.texts, data.origins, conditions=data.labels)


def read_condition_tsv(
    path: str | os.PathLike[str], kind: str = "category", encoding: str = "utf-8"
) -> ConditionedTexts:
    """``condition<TAB>text`` lines; KIND says whether the condition is a category name or
    a row of numbers."""
    if kind not in KINDS:
        raise UserError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    path = Path(path)
    texts, origins, conditions, rows = [], [], [], []
    for number, line in enumerate(_lines(path, encoding), start=1):
        where = f"{path}:{number}"
        condition, tab, text = line.partition("\t")
        if not tab and kind == "vector":
            # one text a line, as a feature-conditioned model is mostly given its texts
            raise SettingError(
                f"{where} is not 'condition<TAB>text' ({quoted(line)}); give the text file's "
                "vectors in features (a .npy matrix of one row per line), or write each line "
                "as numbers<TAB>text",
                "features",
            )
        if not tab or not condition.strip() or not text.strip():
            raise UserError(f"{where} is not 'condition<TAB>text' ({quoted(line)}); fix the line")
        texts.append(text.strip())
        origins.append(where)
        if kind == "category":
            conditions.append(condition.strip())
            continue
        row = _numbers(condition, where)
        if rows and len(row) != len(rows[0]):
            raise UserError(
                f"{where} has {len(row)} numbers, the lines before it {len(rows[0])}; "
                "every condition needs the same count"
            )
        rows.append(row)
    if kind == "category":
        return ConditionedTexts(texts, origins, conditions=conditions)
    return ConditionedTexts(texts, origins, features=np.array(rows, dtype=np.float64))


def read_text_with_features(
    text_path: str | os.PathLike[str],
    features_path: str | os.PathLike[str],
    encoding: str = "utf-8",
) -> ConditionedTexts:
    """The lines of TEXT_PATH, each with its row of the ``.npy`` matrix at FEATURES_PATH."""
    text_path, features_path = Path(text_path), Path(features_path)
    texts = _lines(text_path, encoding)
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            raise UserError(f"{text_path}:{number} is an empty line; every line is one text")
    features = load_features(features_path)
    if len(features) != len(texts):
        raise UserError(
            f"{features_path} has {len(features)} feature rows but {text_path} has "
            f"{len(texts)} lines; give one feature row per line"
        )
    origins = [f"{text_path}:{number}" for number in range(1, len(texts) + 1)]
    return ConditionedTexts([t.strip() for t in texts], origins, features=features)


def load_features(path: Path) -> np.ndarray:
    """A finite float64 matrix ``(rows, features)`` from a ``.npy`` file."""
    if not path.is_file():
        raise UserError(f"{path} does not exist or is not a file; check the path")
    with path.open("rb") as file:
        magic = file.read(len(NPY_MAGIC))
    if magic != NPY_MAGIC:
        # numpy reads any other file as pickled objects and suggests allow_pickle: unsafe
        raise UserError(
            f"{path} is not a .npy file (no NumPy header); save the matrix with numpy.save"
        )
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UserError(
            f"{path} is not a readable .npy array ({error}); save the matrix with numpy.save"
        ) from error
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or 0 in array.shape or array.dtype.kind not in "iuf":
        raise UserError(
            f"{path} holds a {array.dtype} array of shape {array.shape}; expected a numeric "
            "matrix with one row per text"
        )
    array = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        raise UserError(f"{path} has a NaN or infinite value in row {bad[0][0] + 1}")
    return array


def category_ids(
    names: Sequence[str],
    categories: Sequence[str],
    source: str,
    origins: Sequence[str] | None = None,
) -> np.ndarray:
    """The index of each of NAMES in CATEGORIES; an unknown one is a ``UserError`` that
    lists the known ones, naming where it came from (``ORIGINS[i]``, such as
    ``file.tsv:1``, for ``NAMES[i]``), or else SOURCE."""
    index = {name: i for i, name in enumerate(categories)}
    unknown = [name for name in dict.fromkeys(names) if name not in index]
    if unknown:
        name = unknown[0]
        # the line matters: the first one of a TSV is often a header ("label<TAB>text")
        where = source if origins is None else origins[list(names).index(name)]
        cased = [known for known in categories if known.lower() == name.lower()]
        meant = f" (did you mean {cased[0]!r}?)" if cased else ""
        # texts of a file: a model cannot learn a condition it never saw in training
        fix = "" if origins is None else "; leave out its texts, or train with texts under it"
        raise UserError(
            f"{where}: unknown condition {name!r}{meant}; known: {named_categories(categories)}"
            f"{fix}"
        )
    return np.array([index[name] for name in names], dtype=np.int64)


def named_categories(categories: Sequence[str]) -> str:
    """CATEGORIES for a message: the first ``MAX_NAMED`` of them, then "..." if more."""
    return ", ".join(categories[:MAX_NAMED]) + (" ..." if len(categories) > MAX_NAMED else "")


def _lines(path: Path, encoding: str) -> list[str]:
    lines = read_text(path, encoding).split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    return lines


def _numbers(text: str, where: str) -> list[float]:
    parts = text.replace(",", " ").split()
    try:
        values = [float(part) for part in parts]
    except ValueError as error:
        raise UserError(f"{where}: the condition {text!r} is not a row of numbers") from error
    if not np.all(np.isfinite(values)):
        raise UserError(f"{where}: the condition {text!r} holds NaN or infinity")
    return values
