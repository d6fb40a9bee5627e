"""Streaming a sample is linear in its length, even on one endless line, and writes
exactly the decoded text."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterable

import numpy as np
import pytest

from rnnkit.cli.sample import TextStream, write_sample
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer
from rnnkit.models import LanguageModel

# Text without a single line break, Korean included (jamo join into syllables).
LINE = "the cat sat on a mat, 고양이가 매트 위에 앉았다; a dog ran far and 개가 멀리 달렸다. "
SHORT, LONG = 5_000, 40_000


class Discard:
    """Standard output that keeps nothing, as a terminal or a pipe keeps nothing in the
    process: the time measured is the stream's own."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def stream(tokenizer: Tokenizer, ids: Iterable[int], out: io.TextIOBase | Discard) -> None:
    ids = iter(ids)
    text_stream = TextStream(tokenizer, out, [next(ids)], echo=True)
    for token in ids:
        text_stream.push(token)
    text_stream.close()


def streamed_text(tokenizer: Tokenizer, ids: list[int]) -> str:
    out = io.StringIO()
    stream(tokenizer, ids, out)
    return out.getvalue()


def seconds_per_token(tokenizer: Tokenizer, pattern: list[int], length: int) -> float:
    """The best of 3 timings of streaming LENGTH ids (PATTERN over and over), per token.

    The ids come one at a time, as from the model, so the memory used stays the same
    whatever the length: only the stream's own cost can grow with it. The time is this
    thread's CPU time, which other processes on a busy machine do not inflate.
    """
    best = np.inf
    for _ in range(3):
        start = time.thread_time()
        stream(tokenizer, itertools.islice(itertools.cycle(pattern), length), Discard())
        best = min(best, time.thread_time() - start)
    return best / length


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_time_per_token_does_not_grow_with_the_length_of_the_line(kind: str) -> None:
    tokenizer = make_tokenizer(kind).fit(LINE)
    pattern = [int(token) for token in tokenizer.encode(LINE)]
    assert "\n" not in tokenizer.vocab
    short = seconds_per_token(tokenizer, pattern, SHORT)
    long = seconds_per_token(tokenizer, pattern, LONG)
    # Linear: the same cost per token. Decoding the whole line again for every token made
    # 40k tokens cost ~8x as much per token as 5k (quadratic).
    assert long <= 2 * short, (short, long)
    ids = pattern * (LONG // len(pattern))
    assert streamed_text(tokenizer, ids) == tokenizer.decode(ids) + "\n"


@pytest.mark.parametrize("kind", ["char", "word", "jamo"])
def test_stream_decoder_pieces_join_to_the_decoded_text(kind: str) -> None:
    # Random ids, so every order of jamo occurs: leads, vowels and tails in any sequence,
    # next to spaces, punctuation and Latin letters.
    tokenizer = make_tokenizer(kind).fit(LINE + "\n\u1100\u1161\u11a8\u11c2\u1175\u1112")
    rng = np.random.default_rng(0)
    for length in (0, 1, 2, 3, 50, 2_000):
        ids = rng.integers(0, tokenizer.vocab_size, size=length).tolist()
        decoder = tokenizer.stream_decoder()
        pieces = [decoder.push(token) for token in ids]
        assert "".join(pieces) + decoder.flush() == tokenizer.decode(ids)
        # A decoder holds back at most one unfinished syllable: two jamo.
        assert len("".join(pieces)) >= len(tokenizer.decode(ids)) - 1
        assert decoder.flush() == ""  # flushed: nothing left


def test_stream_decoder_rejects_ids_outside_the_vocabulary() -> None:
    decoder = make_tokenizer("jamo").fit("ab").stream_decoder()
    with pytest.raises(ValueError, match="0, 3"):
        decoder.push(3)
    with pytest.raises(ValueError):
        decoder.push(-1)


def test_write_sample_of_a_model_trained_without_line_breaks_is_the_decoded_text() -> None:
    tokenizer = make_tokenizer("jamo").fit(LINE)
    model = LanguageModel(tokenizer.vocab_size, 8, 16, num_layers=1, rng=0)
    prime = "고양이가 "
    out = io.StringIO()
    write_sample(model, tokenizer, 3_000, prime=prime, seed=7, out=out)
    prime_ids = tokenizer.encode(prime)
    generated = list(model.generate(prime_ids, 3_000, rng=7, exclude=tokenizer.never_sampled))
    assert out.getvalue() == tokenizer.decode([*prime_ids, *generated]) + "\n"
    assert out.getvalue().startswith(prime)
