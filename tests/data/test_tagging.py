"""Tagging vocabularies, encoding (with the errors a user can cause) and padded batches."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.conll import TaggedSentences
from rnnkit.data.tagging import (
    MAX_WORD_CHARS,
    TaggingVocabulary,
    encode_sentences,
    encode_tagged,
    tagger_batch,
)
from rnnkit.errors import UserError


def sentences() -> TaggedSentences:
    data = TaggedSentences()
    data.add(["The", "dog", "runs"], ["DET", "NOUN", "VERB"], "a:1")
    data.add(["the", "dog", "sleeps", "."], ["DET", "NOUN", "VERB", "PUNCT"], "a:5")
    return data


def test_vocabularies() -> None:
    vocabulary = TaggingVocabulary.fit(sentences(), "a", lowercase=True)
    assert vocabulary.words[:3] == ["<unk>", "the", "dog"]  # most frequent first
    assert vocabulary.tags.labels == ["DET", "NOUN", "PUNCT", "VERB"]
    assert list(vocabulary.word_ids(["THE", "cat"])) == [1, 0]  # folded; unseen is <unk>
    assert vocabulary.chars[0] == "<unk>" and "T" in vocabulary.chars  # chars keep case
    assert vocabulary.char_ids("é")[0] == 0
    singletons = {vocabulary.words[i] for i in vocabulary.singletons}
    assert singletons == {"runs", "sleeps", "."}
    again = TaggingVocabulary.from_dict(vocabulary.to_dict())
    assert again.to_dict() == vocabulary.to_dict()
    assert TaggingVocabulary.fit(sentences(), "a", min_count=2).words == ["<unk>", "dog"]


def test_one_tag_only_is_refused_in_a_taggers_words() -> None:
    data = TaggedSentences()
    data.add(["The", "dog"], ["X", "X"], "a:1")
    with pytest.raises(UserError, match=r"a has one tag only \('X'\); .* at least two tags$"):
        TaggingVocabulary.fit(data, "a")  # it said "one class only ... a classifier needs"


def test_encoding_refuses_what_the_model_cannot_read() -> None:
    vocabulary = TaggingVocabulary.fit(sentences(), "a")
    encoded = encode_tagged(sentences(), vocabulary, "a")
    assert [list(t) for t in encoded.tags] == [[0, 1, 3], [0, 1, 3, 2]]
    assert list(encoded.chars[0][1]) == list(vocabulary.char_ids("dog"))
    with pytest.raises(UserError, match=r"test.conllu has tags the model was not trained on: 'X'"):
        encode_sentences([["a"]], vocabulary, [["X"]], "test.conllu")
    with pytest.raises(UserError, match=r"a:5: a sentence of 4 words, longer than max_length 3"):
        encode_tagged(sentences(), vocabulary, "a", max_length=3)
    with pytest.raises(UserError, match="the input, sentence 1: an empty sentence"):
        encode_sentences([[]], vocabulary, source="the input")


def test_batches_pad_and_replace_singletons() -> None:
    vocabulary = TaggingVocabulary.fit(sentences(), "a")
    encoded = encode_tagged(sentences(), vocabulary, "a")
    pad = len(vocabulary.words)
    ids, lengths, tags, chars = tagger_batch(encoded, [0, 1], pad, char_pad_id=99)
    assert list(lengths) == [3, 4] and ids[0, 3] == pad and tags[0, 3] == -1
    assert chars.ids.shape[0] == len({w for s in sentences().tokens for w in s})
    assert np.all(
        chars.ids[chars.index[1, 1], : chars.lengths[chars.index[1, 1]]]
        == vocabulary.char_ids("dog")
    )
    assert tagger_batch(encoded, [0], pad, char_pad_id=None)[3] is None
    rng = np.random.default_rng(0)
    replaced, *_ = tagger_batch(encoded, [0, 1], pad, None, 1.0, vocabulary.singletons, rng)
    rare = np.isin(ids, list(vocabulary.singletons))  # The, the, runs, sleeps, .
    assert rare.sum() == 5 and np.all(replaced[rare] == 0) and np.all(replaced[~rare] == ids[~rare])


def test_a_huge_word_is_read_by_its_ends_so_a_batch_stays_small() -> None:
    # One 100,000-character token padded every word of its batch to its length: eval of a
    # treebank with one such line asked for 43 GiB and ended in a MemoryError traceback.
    vocabulary = TaggingVocabulary.fit(sentences(), "a")
    word = "d" * 40 + "o" * 99_920 + "gs"
    assert len(vocabulary.char_ids(word)) == MAX_WORD_CHARS
    assert list(vocabulary.char_ids(word)) == list(vocabulary.char_ids("d" * 32 + "o" * 30 + "gs"))
    assert len(vocabulary.char_ids("d" * MAX_WORD_CHARS)) == MAX_WORD_CHARS  # kept whole
    encoded = encode_sentences([["The", word, "runs"]], vocabulary, source="the input")
    chars = tagger_batch(encoded, [0], len(vocabulary.words), char_pad_id=99)[3]
    assert chars.ids.shape == (3, MAX_WORD_CHARS)
