"""Tagging metrics: token figures by hand counts, span F1 by the conlleval definition
(through seqeval; those tests skip without it), and the error when it is missing."""

from __future__ import annotations

import sys

import pytest

from rnnkit.errors import UserError
from rnnkit.train.tagging_metrics import format_tagging_report, span_scores, tagging_report

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
GOLD = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "B-LOC"], ["B-PER"]]
# Span by span: PER (0-1) right; LOC (3-4) cut short, so wrong; LOC (1) right; in the third
# sentence PER predicted as LOC, wrong, and one extra span.
PREDICTED = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["O", "B-LOC"], ["B-LOC"]]


def test_token_level_figures_by_hand() -> None:
    report = tagging_report(GOLD, PREDICTED, TAGS, scheme=None)
    assert report["tokens"] == 8
    assert report["token_accuracy"] == pytest.approx(6 / 8)
    assert report["confusion"][TAGS.index("I-LOC")][TAGS.index("O")] == 1
    assert report["confusion"][TAGS.index("B-PER")][TAGS.index("B-LOC")] == 1
    # B-LOC: predicted 3 times, right twice; gold twice.
    assert report["per_tag"]["B-LOC"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    assert report["per_tag"]["O"]["precision"] == pytest.approx(2 / 3)
    assert "spans" not in report and report["scheme"] is None


def test_span_f1_is_the_conlleval_definition() -> None:
    pytest.importorskip("seqeval")
    report = tagging_report(GOLD, PREDICTED, TAGS)
    assert report["scheme"] == "BIO"
    spans = report["spans"]
    # gold spans: PER, LOC, LOC, PER = 4; predicted: PER, LOC, LOC, LOC = 4; correct: 2.
    assert spans["support"] == 4
    assert spans["precision"] == pytest.approx(2 / 4)
    assert spans["recall"] == pytest.approx(2 / 4)
    assert spans["f1"] == pytest.approx(0.5)
    assert spans["per_type"]["PER"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2}
    )
    assert spans["per_type"]["LOC"]["precision"] == pytest.approx(1 / 3)
    assert "span F1 0.5000" in format_tagging_report(report)


def test_span_scores_read_iob1_and_bioes() -> None:
    pytest.importorskip("seqeval")
    # IOB1: a span may open with I-; B- only splits two adjacent spans of one type.
    gold = [["I-PER", "I-PER", "B-PER", "O"]]
    assert span_scores(gold, gold)["support"] == 2
    assert span_scores(gold, [["I-PER", "I-PER", "I-PER", "O"]])["f1"] == pytest.approx(0.0)
    bioes = [["S-LOC", "O", "B-PER", "E-PER"]]
    assert span_scores(bioes, bioes)["f1"] == 1.0
    assert span_scores(bioes, [["S-LOC", "O", "S-PER", "S-PER"]])["precision"] == pytest.approx(
        1 / 3
    )


def test_missing_seqeval_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "seqeval", None)  # import seqeval now fails
    monkeypatch.setitem(sys.modules, "seqeval.metrics", None)
    with pytest.raises(UserError, match=r"needs the seqeval package.*rnnkit\[tagging\]"):
        tagging_report(GOLD, PREDICTED, TAGS)
    assert tagging_report(GOLD, PREDICTED, TAGS, scheme=None)["token_accuracy"] == 0.75


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="predicted: expected 3 sentences"):
        tagging_report(GOLD, PREDICTED[:2], TAGS)
    with pytest.raises(ValueError, match=r"predicted\[1\]: expected 2 tags"):
        tagging_report(GOLD, [PREDICTED[0], ["O"], PREDICTED[2]], TAGS)
    with pytest.raises(ValueError, match="gold: tags outside the tag set: B-ORG"):
        tagging_report([["B-ORG"]], [["O"]], TAGS)


def test_format_lists_every_tag_and_the_confusion() -> None:
    text = format_tagging_report(tagging_report(GOLD, PREDICTED, TAGS, scheme=None))
    assert text.startswith("token accuracy 75.00% (8 tokens)")
    assert "tag       precision" in text and "rows: true tag" in text
    assert all(tag in text for tag in TAGS)
