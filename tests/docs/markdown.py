"""The documentation's pages and the code in them: fenced blocks and inline code spans."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
INLINE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Code:
    """A piece of code in a page: PAGE (relative to the repository), LINE (of its first
    line), LANGUAGE (a fenced block's, "inline" for a code span) and TEXT."""

    page: str
    line: int
    language: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """README.md and every page below docs/ (the hooks folder holds no page)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def fenced_blocks() -> list[Code]:
    return [block for page in pages() for block in _blocks(page)]


def inline_spans() -> list[Code]:
    """Every inline code span outside the fenced blocks; a table's escaped ``\\|`` is
    the ``|`` the page shows."""
    spans = []
    for page in pages():
        text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.read_text())
        for match in INLINE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            body = " ".join(match.group(1).replace("\\|", "|").split())
            spans.append(Code(_name(page), line, "inline", body))
    return spans


def _blocks(page: Path) -> list[Code]:
    text = page.read_text()
    return [
        Code(_name(page), text.count("\n", 0, m.start()) + 2, m.group(1), m.group(2))
        for m in FENCE.finditer(text)
    ]


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()
