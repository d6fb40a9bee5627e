"""Tokenizers: round trips, vocabularies, saving, and unknown tokens."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.tokenizers import (
    CharTokenizer,
    JamoTokenizer,
    Tokenizer,
    WordTokenizer,
    make_tokenizer,
    tokenizer_from_dict,
)
from rnnkit.errors import UserError
from rnnkit.train.lm_evaluation import character_ends

KOREAN = "안녕하세요, 세계! 한국어 문장입니다.\n"
ALL_SYLLABLES = "".join(chr(c) for c in range(0xAC00, 0xD7A4))


def user_error(call, *args) -> str:
    with pytest.raises(UserError) as info:
        call(*args)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- characters ---------------------------------------------------------------------------


def test_char_vocab_is_unk_then_sorted_and_round_trips() -> None:
    tok = CharTokenizer().fit("hello world\n")
    assert tok.vocab == ["<unk>", "\n", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.unknown_id == 0
    ids = tok.encode("world hello")
    assert ids.dtype == np.int64
    assert ids.tolist() == [9, 7, 8, 6, 3, 2, 5, 4, 6, 6, 7]
    assert tok.decode(ids) == "world hello"
    assert tok.decode(list(ids)) == "world hello"


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_unseen_characters_are_read_as_unk_and_named(kind: str) -> None:
    tok = make_tokenizer(kind).fit("abc 한국")
    assert tok.unknown_tokens("abxcyx\t") == ["x", "y", "\t"]
    ids = tok.encode("abxcyx\t 한")
    unk = tok.unknown_id
    assert ids.tolist()[:7] == [tok.vocab.index(c) if c in "abc" else unk for c in "abxcyx\t"]
    assert (ids == unk).sum() == 4
    # <unk> decodes as one character, U+FFFD, as every other token is one.
    assert tok.decode(ids) == "ab\ufffdc\ufffd\ufffd\ufffd 한"
    assert character_ends(tok, ids).sum() == len(tok.decode(ids))
    # A literal "<unk>" in the text is five characters, not the token.
    assert tok.encode("<unk>").tolist() == [unk] * 5


@pytest.mark.parametrize("kind", ["char", "jamo", "word"])
def test_unknown_mask_marks_what_the_vocabulary_lacks(kind: str) -> None:
    tok = make_tokenizer(kind).fit("the cat <unk> 한국 sat\n")
    text = "the dog <unk> 한글 sat x\n"
    mask = tok.unknown_mask(text)
    ids = tok.encode(text)
    assert mask.dtype == bool and mask.shape == ids.shape
    # What is marked is read as <unk>; a literal <unk> word is a word of the vocabulary.
    assert (ids[mask] == tok.unknown_id).all()
    # 글 is three jamo, of which the lead ㄱ was seen in 국.
    marked = {"char": "dog글x", "jamo": "dogx\u1173\u11af", "word": ["dog", "한글", "x"]}[kind]
    assert mask.sum() == len(marked)
    if kind == "word":
        assert [tok.vocab[i] for i in ids[~mask]].count("<unk>") == 1


def test_char_vocabulary_saved_without_unk_still_loads_and_refuses_unseen_characters() -> None:
    # As rnnkit saved character vocabularies before <unk> was reserved.
    tok = tokenizer_from_dict({"kind": "char", "vocab": [" ", "a", "b", "c"]})
    assert tok.unknown_id is None and tok.vocab_size == 4
    assert tok.decode(tok.encode("cab a")) == "cab a"
    assert tok.unknown_tokens("abxcyx\t") == ["x", "y", "\t"]
    message = user_error(tok.encode, "abxcyx\t")
    assert "3 characters" in message
    assert "'x', 'y', '\\t'" in message
    assert "retrain" in message and "--" not in message


def test_char_error_names_at_most_ten() -> None:
    tok = tokenizer_from_dict({"kind": "jamo", "vocab": ["a"]})
    message = user_error(tok.encode, "a0123456789XYZ")
    assert "'9'" in message and "'X'" not in message
    assert "and 3 more" in message


def test_char_fit_on_empty_text_fails() -> None:
    user_error(CharTokenizer().fit, "")


def test_encode_before_fit_is_a_bug() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        CharTokenizer().encode("a")


def test_decode_rejects_ids_outside_the_vocabulary() -> None:
    tok = CharTokenizer().fit("ab")
    with pytest.raises(ValueError, match="0, 3"):
        tok.decode([0, 3])
    with pytest.raises(ValueError):
        tok.decode([-1])


# --- words --------------------------------------------------------------------------------


def test_word_round_trip_with_eos() -> None:
    text = "the cat sat\n\nthe dog\n"
    tok = WordTokenizer().fit(text)
    ids = tok.encode(text)
    assert [tok.vocab[i] for i in ids] == [
        "the", "cat", "sat", "<eos>", "<eos>", "the", "dog", "<eos>",
    ]  # fmt: skip
    assert tok.decode(ids) == text


def test_word_last_line_without_newline_still_gets_eos() -> None:
    tok = WordTokenizer().fit("a b")
    assert tok.decode(tok.encode("a  b")) == "a b\n"


def test_word_vocab_order_is_specials_then_frequency_then_alphabet() -> None:
    tok = WordTokenizer().fit("b a c a\nc d\n")
    assert tok.vocab == ["<eos>", "<unk>", "a", "c", "b", "d"]


def test_word_max_vocab_counts_specials_and_sends_the_rest_to_unk() -> None:
    tok = WordTokenizer(max_vocab=4).fit("b a c a\nc d\n")
    assert tok.vocab == ["<eos>", "<unk>", "a", "c"]
    assert tok.decode(tok.encode("a b c d\n")) == "a <unk> c <unk>\n"


def test_word_min_count() -> None:
    tok = WordTokenizer(min_count=2).fit("x x y z z z\n")
    assert tok.vocab == ["<eos>", "<unk>", "z", "x"]


def test_word_unseen_words_become_unk_and_are_reported() -> None:
    tok = WordTokenizer().fit("a b\n")
    unk = tok.vocab.index("<unk>")
    assert tok.encode("a zebra b").tolist() == [2, unk, 3, 0]
    assert tok.unknown_tokens("a zebra yak zebra <unk>\n") == ["zebra", "yak"]


def test_word_literal_unk_is_the_same_token() -> None:
    tok = WordTokenizer().fit("the <unk> sat\n")
    assert tok.vocab.count("<unk>") == 1
    assert tok.encode("<unk> mat").tolist() == [1, 1, 0]


@pytest.mark.parametrize("options", [{"max_vocab": 1}, {"min_count": 0}])
def test_word_bad_options(options: dict) -> None:
    with pytest.raises(UserError, match=f"{next(iter(options))} must be at least"):
        WordTokenizer(**options)


def test_word_fit_without_words_fails() -> None:
    assert "no words" in user_error(WordTokenizer().fit, "\n \n")


# --- Korean jamo --------------------------------------------------------------------------


def test_jamo_sentence_recomposes_exactly() -> None:
    tok = JamoTokenizer().fit(KOREAN)
    ids = tok.encode(KOREAN)
    assert len(ids) > len(KOREAN)  # syllables became 2 or 3 jamo each
    assert "안" not in tok.vocab and "\u1100" in tok.vocab  # letters, not syllables
    assert tok.decode(ids) == KOREAN


def test_jamo_alphabet_of_all_syllables_is_at_most_67() -> None:
    tok = JamoTokenizer().fit(ALL_SYLLABLES)
    assert tok.vocab[0] == "<unk>" and tok.vocab_size <= 1 + 67
    assert all("\u1100" <= c <= "\u11ff" for c in tok.vocab[1:])
    assert tok.decode(tok.encode(ALL_SYLLABLES)) == ALL_SYLLABLES


def test_jamo_stray_sequence_stays_as_it_is() -> None:
    # A tail consonant and a vowel with no lead consonant form no syllable.
    stray = "\u11a8\u1161"
    tok = JamoTokenizer().fit(KOREAN + stray)
    assert tok.decode(tok.encode(stray)) == stray


def test_jamo_leaves_other_scripts_alone() -> None:
    text = "café Ω 한"
    tok = JamoTokenizer().fit(text)
    assert "é" in tok.vocab  # not split into e + accent, as a full NFD would
    assert tok.decode(tok.encode(text)) == text
    assert unicodedata.is_normalized("NFC", tok.decode(tok.encode(text)))


def test_jamo_unknown_characters_are_unk_like_char() -> None:
    tok = JamoTokenizer().fit("한국")
    assert tok.unknown_tokens("한x") == ["x"]
    assert tok.decode(tok.encode("한x")) == "한\ufffd"


# --- saving and making --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tok", "text"),
    [
        (CharTokenizer(), "hello\n"),
        (WordTokenizer(max_vocab=5, min_count=1), "a b c d e f\n"),
        (JamoTokenizer(), KOREAN),
    ],
)
def test_to_dict_round_trips_through_json(tok: Tokenizer, text: str) -> None:
    tok.fit(text)
    restored = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert type(restored) is type(tok)
    assert restored.to_dict() == tok.to_dict()
    assert restored.encode(text).tolist() == tok.encode(text).tolist()


def test_word_to_dict_holds_the_options() -> None:
    d = WordTokenizer(max_vocab=10, min_count=2).fit("a a\n").to_dict()
    assert d == {"kind": "word", "vocab": ["<eos>", "<unk>", "a"], "max_vocab": 10, "min_count": 2}


@pytest.mark.parametrize(
    "vocab",
    [
        ["b", "a"],
        ["<unk>", "b", "a"],
        ["a", "<unk>"],
        ["<unk>", "<unk>", "a"],
        ["ab"],
        ["<unk>"],
        [],
    ],  # fmt: skip
)
def test_damaged_char_vocab_is_refused(vocab: list[str]) -> None:
    with pytest.raises(UserError, match="damaged"):
        tokenizer_from_dict({"kind": "char", "vocab": vocab})


@pytest.mark.parametrize("vocab", [["a", "b"], ["<eos>", "a"], ["<unk>", "<eos>"], []])
def test_damaged_word_vocab_is_refused(vocab: list[str]) -> None:
    # Without <unk>, reading any unseen word would fail; without <eos>, any line end.
    with pytest.raises(UserError, match="damaged"):
        tokenizer_from_dict({"kind": "word", "vocab": vocab})
    with pytest.raises(UserError, match="damaged"):
        tokenizer_from_dict({"kind": "word", "vocab": ["<eos>", "<unk>", "a", "a"]})


def test_make_tokenizer() -> None:
    assert isinstance(make_tokenizer("jamo"), JamoTokenizer)
    assert make_tokenizer("word", max_vocab=7).max_vocab == 7
    assert "char, word, jamo" in user_error(make_tokenizer, "bpe")
    with pytest.raises(UserError, match="max_vocab"):
        make_tokenizer("char", max_vocab=7)


# --- real data ----------------------------------------------------------------------------


def test_ptb_train_vocabulary_and_token_count(shared_data: Path) -> None:
    with gzip.open(shared_data / "ptb" / "ptb.train.txt.gz", "rt") as f:
        text = f.read()
    tok = WordTokenizer().fit(text)
    ids = tok.encode(text)
    assert tok.vocab_size == 10_000
    assert len(ids) == 929_589
    assert (ids == tok.vocab.index("<eos>")).sum() == text.count("\n")
    # The test text's 5.8% of <unk> are the file's own: no word is unknown to the vocabulary.
    with gzip.open(shared_data / "ptb" / "ptb.test.txt.gz", "rt") as f:
        test = f.read()
    assert (tok.encode(test) == tok.unknown_id).mean() > 0.05
    assert not tok.unknown_mask(test).any()


def test_tiny_shakespeare_char_vocabulary(shared_data: Path) -> None:
    text = (shared_data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    tok = CharTokenizer().fit(text)
    assert tok.vocab_size == 1 + 65  # <unk> and 65 characters
    assert tok.decode(tok.encode(text[:5000])) == text[:5000]


# --- pieces: the streaming passes over a large text ----------------------------------------

PIECES = ["hello wor", "ld\n", "naïve café ", "plain ascii\tagain ", "안녕 ", "", "end~\x7f\n"]


@pytest.mark.parametrize("kind", ["char", "jamo"])
def test_pieces_give_the_vocabulary_and_ids_of_the_whole_text(kind: str) -> None:
    # ASCII pieces take a byte-table path and others a code-point path: both must agree
    # with the tokenizer fitted on and encoding the text in one piece.
    whole = make_tokenizer(kind).fit("".join(PIECES))
    assert make_tokenizer(kind).vocab_of_pieces(PIECES) == whole.vocab
    streamed = np.concatenate(list(whole.encode_pieces(PIECES)))
    np.testing.assert_array_equal(streamed, whole.encode("".join(PIECES)))


def test_word_pieces_give_the_vocabulary_ids_and_unknown_mask_of_the_whole_text() -> None:
    pieces = ["the cat", " sat\n\non the", " <unk> mat\n  a dog\u2028ran", "", " far"]
    text = "".join(pieces)
    whole = make_tokenizer("word").fit(text)
    assert make_tokenizer("word").vocab_of_pieces(pieces) == whole.vocab
    np.testing.assert_array_equal(
        np.concatenate(list(whole.encode_pieces(pieces))), whole.encode(text)
    )
    small = make_tokenizer("word", max_vocab=5).fit(text)
    mask = np.concatenate(list(small.unknown_mask_pieces(pieces)))
    np.testing.assert_array_equal(mask, small.unknown_mask(text))
    assert mask.any() and not mask.all()


def test_pieces_read_unseen_characters_as_unk_on_both_paths() -> None:
    tok = make_tokenizer("char").fit("abc ü")
    ids = np.concatenate(list(tok.encode_pieces(["abz", "üß"])))
    np.testing.assert_array_equal(ids, tok.encode("abzüß"))
    assert ids[2] == ids[4] == tok.unknown_id


def test_pieces_of_a_vocabulary_without_unk_refuse_unseen_characters_on_both_paths() -> None:
    tok = tokenizer_from_dict({"kind": "char", "vocab": [" ", "a", "b", "é"]})
    np.testing.assert_array_equal(
        np.concatenate(list(tok.encode_pieces(["ab ", "é a"]))), tok.encode("ab é a")
    )
    for piece, unseen in (("abx", "'x'"), ("abß", "'ß'")):  # an ASCII piece, then a wider one
        assert unseen in user_error(lambda p: list(tok.encode_pieces([p])), piece)


def test_only_a_character_vocabularys_unk_is_never_sampled() -> None:
    assert CharTokenizer().fit("a cat").never_sampled == (0,)
    assert JamoTokenizer().fit(KOREAN).never_sampled == (0,)
    # A word vocabulary's <unk> is a word of its text (rare words replaced by it).
    words = WordTokenizer(min_count=2).fit("the cat the dog\n")
    assert words.never_sampled == () and words.unknown_id is not None
    # An old character vocabulary without <unk> has nothing to leave out.
    assert tokenizer_from_dict({"kind": "char", "vocab": [" ", "a"]}).never_sampled == ()
