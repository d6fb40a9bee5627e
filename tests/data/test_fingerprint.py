"""The data fingerprint that a resumed run compares."""

from __future__ import annotations

from rnnkit.data.conll import TaggedSentences
from rnnkit.data.fingerprint import fingerprint, fingerprint_lines


def test_fingerprint_lines_is_the_fingerprint_of_the_joined_text() -> None:
    lines = ["a\tb", "", "ünï\tcödé", "\ud800 lone surrogate", "last"]
    assert fingerprint_lines(lines) == fingerprint("\n".join(lines))
    assert fingerprint_lines(iter(lines)) == fingerprint("\n".join(lines))
    assert fingerprint_lines([]) == fingerprint("")


def test_sentence_boundaries_change_the_fingerprint() -> None:
    # The same tokens cut into other sentences are other data.
    one, two = TaggedSentences(), TaggedSentences()
    one.add(["a", "b"], ["X", "Y"], "f:1")
    two.add(["a"], ["X"], "f:1")
    two.add(["b"], ["Y"], "f:2")
    assert fingerprint_lines(one.lines()) != fingerprint_lines(two.lines())
