"""Sequence metrics: hand-counted exact match, token accuracy and error rate, the G2P
protocol with several references, BLEU through sacreBLEU, and what goes without the extra."""

from __future__ import annotations

import sys

import pytest

from rnnkit.errors import UserError
from rnnkit.train.seq2seq_metrics import (
    closest_references,
    corpus_bleu,
    exact_match,
    missing_scores,
    sequence_scores,
)


def test_single_reference_counts() -> None:
    pytest.importorskip("rapidfuzz")
    outputs = [["a", "b", "c"], ["a", "x"], ["q"]]
    references = [[["a", "b", "c"]], [["a", "b", "d"]], [["q", "r"]]]
    scores = sequence_scores(outputs, references)
    assert scores["exact_match"] == pytest.approx(1 / 3)
    # distances 0, 2 (substitute x->b, insert d), 1 (insert r) over 3 + 3 + 2 tokens
    assert scores["token_error_rate"] == pytest.approx(3 / 8)
    # position matches: 3, 1 (a), 1 (q)
    assert scores["token_accuracy"] == pytest.approx(5 / 8)


def test_g2p_protocol_right_if_any_reference_and_per_against_the_closest() -> None:
    pytest.importorskip("rapidfuzz")
    read = [["R", "IY", "D"], ["R", "EH", "D"]]
    outputs = [["R", "EH", "D"], ["R", "EH", "D", "Z"], ["AE", "B", "IY"]]
    references = [read, read, [["AE", "B", "IY"]]]
    assert exact_match(outputs, references) == pytest.approx(2 / 3)
    closest, distances = closest_references(outputs, references)
    assert closest[1] == ["R", "EH", "D"] and distances == [0, 1, 0]
    scores = sequence_scores(outputs, references)
    assert scores["token_error_rate"] == pytest.approx(1 / 9)
    assert 1 - scores["exact_match"] == pytest.approx(1 / 3)  # the word error rate


def test_bleu_is_sacrebleus_corpus_bleu() -> None:
    sacrebleu = pytest.importorskip("sacrebleu")
    pytest.importorskip("rapidfuzz")
    outputs = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "ran", "far", "away"]]
    references = [
        [["the", "cat", "sat", "on", "a", "mat"]],
        [["a", "dog", "ran", "far", "off"], ["the", "dog", "ran", "far", "away"]],
    ]
    expected = sacrebleu.corpus_bleu(
        ["the cat sat on the mat", "a dog ran far away"],
        [["the cat sat on a mat", "a dog ran far off"], [None, "the dog ran far away"]],
        tokenize="none",
    ).score
    assert corpus_bleu(outputs, references) == pytest.approx(expected)
    assert sequence_scores(outputs, references, bleu=True)["bleu"] == pytest.approx(expected)
    assert corpus_bleu([["x", "y", "z", "w"]], [[["x", "y", "z", "w"]]]) == pytest.approx(100.0)


def test_missing_extras_leave_their_figures_out_and_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("rapidfuzz")
    pytest.importorskip("sacrebleu")
    assert missing_scores(bleu=True) is None
    assert set(sequence_scores([["a"]], [[["a"]]], bleu=True)) == {
        "exact_match", "token_error_rate", "token_accuracy", "bleu",
    }  # fmt: skip
    monkeypatch.setitem(sys.modules, "sacrebleu", None)
    assert missing_scores(bleu=False) is None
    assert missing_scores(bleu=True) == 'BLEU needs sacrebleu: pip install "rnnkit[seq2seq]"'
    assert "bleu" not in sequence_scores([["a"]], [[["a"]]], bleu=True)
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)
    monkeypatch.setitem(sys.modules, "rapidfuzz.distance", None)
    # exact match needs neither package
    assert sequence_scores([["a"], ["b"]], [[["a"]], [["c"]]], bleu=True) == {"exact_match": 0.5}
    assert missing_scores(bleu=False) == (
        'token accuracy and the token error rate need rapidfuzz: pip install "rnnkit[seq2seq]"'
    )
    with pytest.raises(UserError, match=r"rapidfuzz package: pip install"):
        closest_references([["a"]], [[["a"]]])
    with pytest.raises(UserError, match=r"sacrebleu package: pip install"):
        corpus_bleu([["a"]], [[["a"]]])


def test_mismatched_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="outputs, references"):
        exact_match([["a"]], [])
    with pytest.raises(ValueError, match=r"references\[0\]"):
        exact_match([["a"]], [[]])
