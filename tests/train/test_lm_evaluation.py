"""Bits per character: per character of the text, also for a jamo model, whose Korean
syllables are 2 or 3 tokens each; the expected numbers are worked out here from the text
itself (NFD per syllable), not with the functions under test. Unknown tokens: scored as
<unk>, counted beside the loss, and a result past the limit flagged as not comparable."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.lm_batches import split_train_val
from rnnkit.data.tokenizers import Tokenizer, make_tokenizer, tokenizer_from_dict
from rnnkit.errors import UserError
from rnnkit.models import LanguageModel
from rnnkit.train import LMSettings, LMTrainer, evaluate_language_model
from rnnkit.train.lm_evaluation import (
    UNKNOWN_RATE_LIMIT,
    character_ends,
    describe_unknown,
    evaluation_report,
    measure_language_model,
)

# Starts with a syllable of 2+ jamo, so with one stream (whose first token has nothing to
# predict it) the first character still has its last token predicted: every character counts.
KOREAN = "안녕하세요 반갑습니다.\n오늘은 날씨가 좋네요.\n한국어 문장을 읽어요.\n" * 3


def tiny_model(tokenizer: Tokenizer) -> LanguageModel:
    return LanguageModel(
        tokenizer.vocab_size, embedding_size=8, hidden_size=16, num_layers=1, rng=0
    )


def nats_per_target(model: LanguageModel, ids: np.ndarray) -> np.ndarray:
    """-ln p(ids[t] | ids[:t]) for t = 1 .. len(ids) - 1, from the logits directly."""
    logits = model.eval().forward(ids[None, :-1])[0][0].astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return np.log(np.exp(shifted).sum(-1)) - shifted[np.arange(len(ids) - 1), ids[1:]]


def last_token_of_each_character(text: str) -> list[int]:
    """The index, in the jamo token stream, of the last token of each character of TEXT."""
    ends, position = [], -1
    for character in text:
        is_syllable = "\uac00" <= character <= "\ud7a3"
        position += len(unicodedata.normalize("NFD", character)) if is_syllable else 1
        ends.append(position)
    return ends


def test_jamo_bits_per_char_is_total_bits_over_the_characters_of_the_text() -> None:
    tokenizer = make_tokenizer("jamo").fit(KOREAN)
    ids = tokenizer.encode(KOREAN)
    model = tiny_model(tokenizer)
    report = measure_language_model(model, tokenizer, ids, batch_size=1, seq_len=len(ids))

    total_bits = nats_per_target(model, ids).sum() / math.log(2)
    assert len(ids) > 2 * len(KOREAN)  # most characters are syllables of 2 or 3 jamo
    assert report["tokens"] == len(ids) - 1
    assert report["characters"] == len(KOREAN)
    assert report["bits_per_char"] == pytest.approx(total_bits / len(KOREAN), rel=1e-5)
    # Not the bits per token (per jamo), which are less than half as many.
    per_token = report["loss"] / math.log(2)
    assert per_token == pytest.approx(total_bits / (len(ids) - 1), rel=1e-5)
    assert report["bits_per_char"] > 2 * per_token


def test_several_streams_predict_every_token_but_the_first() -> None:
    # Four streams of m targets each, every one from a zero state, whose inputs start at
    # the token before their first target; the targets that do not fill the four equally
    # continue the last stream. So the loss is that of four texts read alone, the last
    # running to the end, and every character counts.
    tokenizer = make_tokenizer("jamo").fit(KOREAN)
    ids = tokenizer.encode(KOREAN)
    model = tiny_model(tokenizer)
    report = measure_language_model(model, tokenizer, ids, batch_size=4, seq_len=16)

    m = (len(ids) - 1) // 4
    assert (len(ids) - 1) % 4 > 0  # a rest that continues the last stream
    runs = [ids[s * m : (s + 1) * m + 1] for s in range(3)] + [ids[3 * m :]]
    nats = np.concatenate([nats_per_target(model, run) for run in runs])
    assert report["tokens"] == len(nats) == len(ids) - 1
    assert report["characters"] == len(KOREAN)
    assert report["loss"] == pytest.approx(nats.mean(), rel=1e-5)
    loss, tokens = evaluate_language_model(model, ids, 4, 16)
    assert (report["loss"], report["tokens"]) == (loss, tokens)
    assert report["bits_per_char"] == pytest.approx(loss * tokens / len(KOREAN) / math.log(2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_rest_continues_the_last_stream_for_every_cell(cell: str) -> None:
    # The rest is longer than a window here, so the last stream's state is carried into
    # a one-row batch and on through two windows more; an LSTM's state is a pair.
    text = "the cat sat on the mat.\n" * 4
    tokenizer = make_tokenizer("char").fit(text)
    ids = tokenizer.encode(text)[:95]
    model = LanguageModel(tokenizer.vocab_size, 8, 16, num_layers=2, cell=cell, rng=1)
    loss, tokens = evaluate_language_model(model, ids, batch_size=10, seq_len=4)
    m = 94 // 10
    runs = [ids[s * m : (s + 1) * m + 1] for s in range(9)] + [ids[9 * m :]]
    nats = np.concatenate([nats_per_target(model, run) for run in runs])
    assert tokens == len(nats) == 94 and len(runs[-1]) - 1 - m == 4
    assert loss == pytest.approx(nats.mean(), rel=1e-5)


def test_char_bits_per_char_is_bits_per_token() -> None:
    text = "the cat sat on the mat.\n" * 10
    tokenizer = make_tokenizer("char").fit(text)
    ids = tokenizer.encode(text)
    report = measure_language_model(tiny_model(tokenizer), tokenizer, ids, 4, 16)
    assert report["characters"] == report["tokens"]
    assert report["bits_per_char"] == pytest.approx(report["loss"] / math.log(2))


def test_word_models_report_perplexity_and_no_characters() -> None:
    text = "the cat sat on the mat .\n" * 10
    tokenizer = make_tokenizer("word").fit(text)
    report = measure_language_model(tiny_model(tokenizer), tokenizer, tokenizer.encode(text), 4, 8)
    assert set(report) == {"loss", "perplexity", "tokens"}


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_character_ends_add_up_to_the_decoded_length(kind: str) -> None:
    # Mixed text: syllables, Latin with a combining accent, and loose conjoining jamo that
    # decoding composes (a lead and a vowel) or leaves alone (a lone vowel, a doubled lead).
    text = KOREAN + "caf\u00e9 e\u0301 \u1100\u1161\u11a8 \u1161 \u1100\u1100\u1161 끝"
    tokenizer = make_tokenizer(kind).fit(text)
    ids = tokenizer.encode(text)
    ends = character_ends(tokenizer, ids)
    assert set(np.unique(ends)) <= {0, 1} and ends[-1] == 1
    for stop in (len(ids), len(ids) // 2, 7):  # prefixes may end inside a syllable
        assert ends[:stop].sum() <= len(tokenizer.decode(ids[:stop]))
    assert ends.sum() == len(tokenizer.decode(ids))


def test_training_validation_reports_bits_per_character(tmp_path: Path) -> None:
    tokenizer = make_tokenizer("jamo").fit(KOREAN)
    train_ids, val_ids = split_train_val(tokenizer.encode(KOREAN), 0.3)
    model = tiny_model(tokenizer)
    settings = LMSettings(batch_size=2, seq_len=8)
    trainer = LMTrainer(model, tokenizer, train_ids, val_ids, settings, tmp_path)
    measures = trainer.validate()
    report = measure_language_model(model, tokenizer, val_ids, 2, 8)
    assert measures == {"loss": report["loss"], "bits_per_char": report["bits_per_char"]}
    assert measures["bits_per_char"] > 1.5 * measures["loss"] / math.log(2)  # ~2 tokens a character
    assert "bits/char" in trainer.describe(measures)


def test_a_text_that_completes_no_character_is_a_user_error() -> None:
    # The 5 jamo of "각가" in two streams, capped at their first step: the targets are
    # the vowel of 각 and the lead of 가, both inside a syllable. (A whole text always
    # completes its last character.)
    tokenizer = make_tokenizer("jamo").fit("각가")
    ids = tokenizer.encode("각가")
    model = tiny_model(tokenizer)
    assert measure_language_model(model, tokenizer, ids, 2, 4)["characters"] == 2
    with pytest.raises(UserError, match="complete no character"):
        measure_language_model(model, tokenizer, ids, batch_size=2, seq_len=4, max_tokens=2)


# --- unknown tokens -----------------------------------------------------------------------

ENGLISH = "the cat sat on the mat.\n" * 10


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_unseen_characters_are_scored_as_unk_and_counted(kind: str) -> None:
    tokenizer = make_tokenizer(kind).fit(ENGLISH + KOREAN)
    text = ENGLISH.replace("mat", "m@t") + ENGLISH + "한국어 50%\n"  # '@', '5', '0', '%' unseen
    ids = tokenizer.encode(text)
    model = tiny_model(tokenizer)
    report = evaluation_report(model, tokenizer, ids, batch_size=1, seq_len=len(ids))

    unseen = sum(text.count(c) for c in "@50%")
    assert report["unknown_tokens"] == unseen == 13
    assert report["unknown_rate"] == pytest.approx(unseen / (len(ids) - 1))
    assert report["comparable"] is True and "note" not in report
    # <unk> targets are scored, not dropped: the loss is the mean over every target.
    assert report["loss"] == pytest.approx(nats_per_target(model, ids).mean(), rel=1e-5)
    assert report["tokens"] == len(ids) - 1
    assert describe_unknown(report) == f"13 unknown ({unseen / (len(ids) - 1):.2%})"


def test_unknown_targets_are_counted_like_the_loss_with_several_streams() -> None:
    tokenizer = make_tokenizer("char").fit(ENGLISH)
    ids = tokenizer.encode(ENGLISH.replace("t", "T"))  # 'T' is unknown
    report = evaluation_report(tiny_model(tokenizer), tokenizer, ids, batch_size=4, seq_len=16)
    # Every token but the first is predicted, and the first is an unknown 'T'.
    is_unknown = ids == tokenizer.unknown_id
    unknown = int(is_unknown[1:].sum())
    assert is_unknown[0] and report["tokens"] == len(ids) - 1
    assert report["unknown_tokens"] == unknown > 0
    assert report["unknown_rate"] == pytest.approx(unknown / (len(ids) - 1))


def test_a_text_mostly_unknown_to_a_word_model_is_flagged_not_comparable() -> None:
    # The C source of the issue: most words unseen, so perplexity says little.
    tokenizer = make_tokenizer("word").fit(ENGLISH)
    text = "int main ( void ) { return the cat ; }\n" * 5
    ids = tokenizer.encode(text)
    report = evaluation_report(tiny_model(tokenizer), tokenizer, ids, batch_size=1, seq_len=64)
    assert report["unknown_rate"] > 0.7
    assert report["comparable"] is False
    assert "not comparable" in report["note"] and "\n" not in report["note"]
    assert {"loss", "perplexity", "tokens"} < set(report)


def test_a_literal_unk_of_the_text_is_not_unknown_to_the_model() -> None:
    # As in the Penn Treebank files: the text marks rare words <unk> itself, and the model
    # learned to predict them; only words outside the vocabulary are unknown.
    tokenizer = make_tokenizer("word").fit("the <unk> sat on the mat .\n" * 5)
    text = "the <unk> sat on the <unk> .\n" * 4 + "the zebra sat .\n"
    ids, mask = tokenizer.encode(text), tokenizer.unknown_mask(text)
    model = tiny_model(tokenizer)
    report = evaluation_report(model, tokenizer, ids, 1, 16, unknown=mask)
    assert report["unknown_tokens"] == 1  # zebra
    assert report["comparable"] is True
    # Without the mask, every <unk> id counts: 9 of the 36 targets.
    everything = evaluation_report(model, tokenizer, ids, 1, 16)
    assert everything["unknown_tokens"] == 9 and everything["comparable"] is False
    for measure in ("loss", "perplexity", "tokens"):  # the same scores either way
        assert everything[measure] == report[measure]
    with pytest.raises(ValueError, match="one flag per id"):
        evaluation_report(model, tokenizer, ids, 1, 16, unknown=mask[1:])


def test_the_limit_is_a_rate_of_unknown_targets() -> None:
    tokenizer = make_tokenizer("char").fit("ab")
    model = tiny_model(tokenizer)
    a, unk = tokenizer.vocab.index("a"), tokenizer.unknown_id
    for unknown, comparable in ((5, True), (6, False)):  # of 100 targets; the limit is 5%
        ids = np.array([a] * (101 - unknown) + [unk] * unknown)
        report = evaluation_report(model, tokenizer, ids, batch_size=1, seq_len=101)
        assert report["unknown_tokens"] == unknown
        assert report["comparable"] is comparable
    assert UNKNOWN_RATE_LIMIT == 0.05


def test_an_old_char_vocabulary_without_unk_has_no_unknown_tokens() -> None:
    tokenizer = tokenizer_from_dict({"kind": "char", "vocab": sorted(set(ENGLISH))})
    ids = tokenizer.encode(ENGLISH)
    report = evaluation_report(tiny_model(tokenizer), tokenizer, ids, batch_size=2, seq_len=8)
    assert (report["unknown_tokens"], report["unknown_rate"], report["comparable"]) == (0, 0, True)


# --- a cap on the tokens evaluated ----------------------------------------------------------


def test_max_tokens_reads_the_first_steps_of_every_stream() -> None:
    # Validation on a large text costs as much as its length; max_tokens bounds it, like
    # nanoGPT's eval_iters, reading the same tokens every time, from every stream.
    text = ENGLISH.replace("t", "T", 7) + KOREAN
    tokenizer = make_tokenizer("jamo").fit(ENGLISH + KOREAN)
    ids = tokenizer.encode(text)
    model = tiny_model(tokenizer)
    capped = evaluation_report(model, tokenizer, ids, batch_size=4, seq_len=16, max_tokens=50)

    # ceil(50 / 4) = 13 steps of each of the 4 streams: the loss is that of each stream's
    # first 14 tokens (13 inputs and their targets) read alone.
    m = (len(ids) - 1) // 4
    firsts = [ids[s * m : s * m + 14] for s in range(4)]
    nats = np.concatenate([nats_per_target(model, first) for first in firsts])
    assert capped["tokens"] == len(nats) == 52
    assert capped["loss"] == pytest.approx(nats.mean(), rel=1e-5)
    # Characters and <unk> are counted over the same 52 targets of the whole text.
    targets = [s * m + t for s in range(4) for t in range(1, 14)]
    characters = int(character_ends(tokenizer, ids)[targets].sum())
    assert capped["characters"] == characters < 52
    assert capped["unknown_tokens"] == int((ids[targets] == tokenizer.unknown_id).sum()) > 0
    assert capped["bits_per_char"] == pytest.approx(capped["loss"] * 52 / characters / math.log(2))
    assert capped["loss"] != pytest.approx(evaluate_language_model(model, ids, 4, 16)[0])


@pytest.mark.parametrize("seq_len", [3, 16])
def test_max_tokens_past_the_text_reads_all_of_it(seq_len: int) -> None:
    tokenizer = make_tokenizer("char").fit(ENGLISH)
    ids = tokenizer.encode(ENGLISH)
    model = tiny_model(tokenizer)
    full = evaluate_language_model(model, ids, 4, seq_len)
    assert evaluate_language_model(model, ids, 4, seq_len, max_tokens=10**9) == full
    # One window and a part of the next, cut inside it.
    loss, tokens = evaluate_language_model(model, ids, 4, seq_len, max_tokens=4 * seq_len + 5)
    assert tokens == 4 * (seq_len + 2)
    with pytest.raises(UserError, match="max_tokens must be at least 1"):
        evaluate_language_model(model, ids, 4, seq_len, max_tokens=0)
