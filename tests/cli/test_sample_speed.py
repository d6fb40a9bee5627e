"""Streaming a sample is linear in its length, even on one endless line, and writes
exactly the decoded text."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from rnnkit.cli.sample import TextStream, write_sample
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer
from rnnkit.models import LanguageModel

# Text without a single line break, Korean included (jamo join into syllables).
LINE = "the cat sat on a mat, 고양이가 매트 위에 앉았다; a dog ran far and 개가 멀리 달렸다. "
SHORT, LONG = 5_000, 40_000


def stream(tokenizer: Tokenizer, ids: list[int], echo: bool = True) -> str:
    out = io.StringIO()
    text_stream = TextStream(tokenizer, out, ids[:1], echo=echo)
    for token in ids[1:]:
        text_stream.push(token)
    text_stream.close()
    return out.getvalue()


def seconds_per_token(tokenizer: Tokenizer, ids: list[int]) -> float:
    """The best of 3 timings of streaming IDS, per token."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        stream(tokenizer, ids)
        best = min(best, time.perf_counter() - start)
    return best / len(ids)


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_time_per_token_does_not_grow_with_the_length_of_the_line(kind: str) -> None:
    tokenizer = make_tokenizer(kind).fit(LINE)
    ids = list(tokenizer.encode(LINE * (LONG // len(LINE) + 1)))[:LONG]
    assert tokenizer.vocab_size and "\n" not in tokenizer.vocab
    short, long = seconds_per_token(tokenizer, ids[:SHORT]), seconds_per_token(tokenizer, ids)
    # Linear: the same cost per token. Decoding the whole line again for every token made
    # 40k tokens cost ~8x as much per token as 5k (quadratic).
    assert long <= 2 * short, (short, long)
    assert stream(tokenizer, ids) == tokenizer.decode(ids) + "\n"


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
    with pytest.raises(ValueError, match="0, 2"):
        decoder.push(2)
    with pytest.raises(ValueError):
        decoder.push(-1)


def test_write_sample_of_a_model_trained_without_line_breaks_is_the_decoded_text() -> None:
    tokenizer = make_tokenizer("jamo").fit(LINE)
    model = LanguageModel(tokenizer.vocab_size, 8, 16, num_layers=1, rng=0)
    prime = "고양이가 "
    out = io.StringIO()
    write_sample(model, tokenizer, 3_000, prime=prime, seed=7, out=out)
    prime_ids = tokenizer.encode(prime)
    generated = list(model.generate(prime_ids, 3_000, rng=7))
    assert out.getvalue() == tokenizer.decode([*prime_ids, *generated]) + "\n"
    assert out.getvalue().startswith(prime)
