"""``metrics.jsonl``: one JSON object per line, appended as training goes.

Each record has a ``step``; training records carry e.g. ``train_loss``, evaluation
records ``val_loss`` (see the trainer for the exact fields). A line is flushed as soon as
it is written, so ``tail -f`` follows a run; a process killed mid-line leaves a broken last
line, which ``read`` skips, as it skips a line that is no record of this log (an edited
line whose ``step`` is not a whole number). A resumed run first drops the records past its
checkpoint's step (``truncate_after``), so the log never holds two histories.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rnnkit.atomic import write_atomic


class MetricsLog:
    """Append-only JSON-lines log at PATH."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        """Every complete record, in order (a missing file is an empty log)."""
        if not self.path.exists():
            return []
        records = []
        # a process killed mid-line may cut a character in two, or the file system may leave
        # junk bytes after it: such a line is skipped, as a torn one is
        text = self.path.read_bytes().decode("utf-8", errors="replace")
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the torn last line of a killed process
            if _is_record(record):
                records.append(record)
        return records

    def truncate_after(self, step: int) -> None:
        """Drop the records of steps after STEP (rewritten atomically)."""
        kept = [r for r in self.read() if r["step"] <= step]
        write_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept).encode())


def _is_record(record: Any) -> bool:
    """Whether RECORD (a decoded line) is a record of this log: an object whose ``step`` is
    a whole number. An edited line with another ``step`` (text, null, none) would stop the
    resume that truncates the log, or the plot that draws it."""
    step = record.get("step") if isinstance(record, dict) else None
    return isinstance(step, int) and not isinstance(step, bool)
