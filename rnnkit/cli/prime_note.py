"""The note ``rnnkit sample`` prints when ``--prime`` holds words or characters the model
never saw: they are read as ``<unk>``, so the text goes on from something else than typed."""

from __future__ import annotations

import sys

from rnnkit.data.tokenizers import UNK, Tokenizer
from rnnkit.plural import some_of

MAX_NAMED = 10  # unknown words or characters named in a note


def note_unknown_prime(tokenizer: Tokenizer, prime: str) -> None:
    """Print a note on stderr naming the tokens of PRIME that TOKENIZER reads as ``<unk>``.

    Args:
        tokenizer: the model's tokenizer.
        prime: the text ``--prime`` gave.
    """
    unknown = tokenizer.unknown_tokens(prime)
    if unknown and tokenizer.unknown_id is not None:
        units = "words" if tokenizer.kind == "word" else "characters"
        named = some_of(unknown, MAX_NAMED)
        print(f"rnnkit: note: --prime {units} read as {UNK}: {named}", file=sys.stderr)
