"""Raw text into the words a model was trained on.

Treebanks and many text corpora split punctuation from words ("mat ." and not "mat."), and
English ones split clitics too ("ca n't", "it 's"). A model given raw text split at
whitespace would meet "mat." and "can't", words it never saw. ``split_words`` splits the
way its training data did, guided by the words the model knows:

1. a whitespace-separated word the model knows stays whole (its training data had it so:
   "U.S.", or "mat." itself in text that was never split);
2. otherwise runs of letters, digits and the marks that combine with them (the vowel
   signs of Indic scripts, accents written apart), with inner hyphens, apostrophes and
   dots, and commas and colons between digits, are words ("well-known", "can't", "3.5",
   "U.S", "1,000", "12:30", "हिन्दी"); any other character is a token of its own,
   repeated ones together ("...", "!!");
3. a word with an apostrophe that the model does not know is split before the apostrophe,
   or before an "n" in front of it, where the part from there on is a word it knows:
   "can't" -> "ca n't", "it's" -> "it 's", "parents'" -> "parents '" (whatever the
   training data's convention was, if its words show one);
4. a dot after a word is joined to it where the model knows the pair: "Mr." and "etc."
   stay whole when the training data had them so.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_TOKEN = re.compile(r"\w+(?:[-'’.]\w+|(?<=\d)[,:]\d\w*)*|([^\w\s])\1*")
_APOSTROPHES = "'’"


def split_words(text: str, known: Callable[[str], bool]) -> list[str]:
    """TEXT as a list of words (see the module docstring).

    Args:
        text: one sentence of raw text.
        known: whether the model knows a word (as it reads it: after any case folding).
    Outputs:
        the words, in order; their characters joined are TEXT's without its whitespace.
    """
    words: list[str] = []
    for chunk in text.split():
        words += [chunk] if known(chunk) else _split_chunk(chunk, known)
    return words


def _split_chunk(chunk: str, known: Callable[[str], bool]) -> list[str]:
    words: list[str] = []
    for match in _TOKEN.finditer(_marks_as_letters(chunk)):
        token = chunk[match.start() : match.end()]
        if token == "." and words and known(words[-1] + token):
            words[-1] += token
        else:
            words += _split_clitic(token, known)
    return words


def _marks_as_letters(chunk: str) -> str:
    """CHUNK with each combining mark (Unicode category M) as a letter, the same length:
    a regular expression's ``\\w`` takes no marks, and would cut "हिन्दी" into six pieces."""
    if chunk.isascii():
        return chunk
    return "".join("a" if unicodedata.category(c)[0] == "M" else c for c in chunk)


def _split_clitic(word: str, known: Callable[[str], bool]) -> list[str]:
    if known(word) or not any(a in word for a in _APOSTROPHES):
        return [word]
    for at, char in enumerate(word):
        if char not in _APOSTROPHES:
            continue
        starts = [at - 1, at] if at > 1 and word[at - 1] in "nN" else [at]
        for start in starts:
            if start > 0 and known(word[start:]):
                return [word[:start], word[start:]]
    return [word]
