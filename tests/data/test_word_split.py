"""Raw text split into a tagger's words (``rnnkit.data.word_split``)."""

from __future__ import annotations

from rnnkit.data.word_split import split_words

# The words of an English treebank that decide where raw text splits.
KNOWN = {"ca", "n't", "'s", "it", "Mr.", "etc.", "'", "!"}


def split(text: str, known: set[str] = KNOWN) -> list[str]:
    return split_words(text, known.__contains__)


def test_punctuation_is_split_from_words_and_runs_of_one_mark_kept_together() -> None:
    assert split("The cat sat on the mat.") == ["The", "cat", "sat", "on", "the", "mat", "."]
    assert split("Wait... what?!") == ["Wait", "...", "what", "?", "!"]
    assert split("(3.5 well-known U.S, items)") == [
        "(", "3.5", "well-known", "U.S", ",", "items", ")",
    ]  # fmt: skip


def test_clitics_split_where_the_tagger_knows_the_clitic() -> None:
    assert split("I can't, it's John's") == ["I", "ca", "n't", ",", "it", "'s", "John", "'s"]
    assert split("the parents' car") == ["the", "parents", "'", "car"]
    # Without the clitics in its words, the words stay whole: no rule of English is assumed.
    assert split("I can't, it's", {"!"}) == ["I", "can't", ",", "it's"]
    # A word the tagger knows whole is not split.
    assert split("don't o'clock", KNOWN | {"o'clock"}) == ["do", "n't", "o'clock"]


def test_a_dot_joins_the_word_before_it_only_where_the_pair_is_known() -> None:
    assert split("Mr. Smith came, etc.") == ["Mr.", "Smith", "came", ",", "etc."]
    assert split("Mrs. Smith") == ["Mrs", ".", "Smith"]
    assert split("Mr . Smith") == ["Mr", ".", "Smith"]  # spaced apart: two tokens


def test_every_character_but_whitespace_is_kept() -> None:
    text = " «Ça va?» — l'été, 12:30\tok "
    words = split(text)
    assert "".join(words) == "".join(text.split())
    assert all(words)


def test_a_word_the_model_knows_whole_stays_whole() -> None:
    # Training text that was never split had "earth?" as one word: so is it read.
    assert split("the earth? mat.", KNOWN | {"earth?"}) == ["the", "earth?", "mat", "."]
    assert split("U.S. troops", KNOWN | {"U.S."}) == ["U.S.", "troops"]
    assert split("U.S. troops") == ["U.S", ".", "troops"]


def test_combining_marks_stay_in_their_words() -> None:
    # Vowel signs and viramas are marks, not letters: "हिन्दी" was cut into six pieces,
    # and an accent written apart from its letter into two.
    assert split("हिन्दी भाषा।") == ["हिन्दी", "भाषा", "।"]
    assert split("cafe\u0301, naïve") == ["cafe\u0301", ",", "naïve"]


def test_numbers_with_commas_and_times_stay_whole() -> None:
    # As treebanks write them ("1,000", "12:30"); between words the marks split.
    assert split("At 12:30pm, 1,000 came: 3, 4") == [
        "At", "12:30pm", ",", "1,000", "came", ":", "3", ",", "4",
    ]  # fmt: skip
    assert split("a,b x:y") == ["a", ",", "b", "x", ":", "y"]
