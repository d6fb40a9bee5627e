"""Rows of a CSV or TSV text with their line numbers, a malformed row a one-line error.

Python's ``csv`` module raises its own ``csv.Error`` on a row it cannot read: a field
longer than ``csv.field_size_limit()`` (128 KiB; a file with no line breaks, or an
unclosed quote that swallows the rest of the file), or a NUL byte on Python 3.10. Left
alone that error would end a command in a traceback; here it names the file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from rnnkit.errors import UserError


def csv_rows(
    lines: Iterable[str], where: str, **dialect: object
) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of each row of LINES read by ``csv.reader(LINES, **DIALECT)``.

    Args:
        lines: the text's lines, as ``csv.reader`` takes them.
        where: the file, as the error names it.
        dialect: ``csv.reader``'s formatting parameters (``delimiter``, ``quoting``...).

    Outputs:
        The rows in order; the line number is the last line a row was read from.

    Raises ``UserError`` naming WHERE and the line at the first row ``csv`` cannot read.
    """
    reader = csv.reader(lines, **dialect)  # type: ignore[arg-type]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line = reader.line_num
            if "field limit" in str(error):
                problem = (
                    f"a field is longer than {csv.field_size_limit():,} characters (a missing "
                    "line break, or a quote that is never closed)"
                )
            else:
                problem = str(error)
            raise UserError(f"{where}:{line}: {problem}; correct the file there") from None
        yield reader.line_num, row
