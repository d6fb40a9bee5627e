"""How good a tagger is: token accuracy, per-tag figures, confusion, and span-level F1.

Token level: every token is one example, its gold tag the true class and the predicted tag
the prediction, so accuracy, per-tag precision/recall/F1 and the confusion matrix are those
of ``classification_metrics`` (see there for the formulas)::

    token accuracy = #{tokens with predicted tag == gold tag} / #tokens

Span level, for span tag sets (BIO, IOB1, BIOES; ``rnnkit.data.conll.tag_scheme``): the
tags of a sentence are read as spans ``(type, first token, last token)``, and a predicted
span counts as correct only if a gold span has the same type and both boundaries::

    precision = #correct / #predicted spans,   recall = #correct / #gold spans
    micro F1  = 2 precision recall / (precision + recall)

summed over all sentences (micro-averaged), and per span type. This is the CoNLL
``conlleval`` definition, computed by the ``seqeval`` package in its default mode (install
it with ``pip install 'rnnkit[tagging]'``); the token-level figures need nothing extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.data.conll import tag_scheme
from rnnkit.errors import UserError
from rnnkit.train.classification_metrics import classification_report, format_report

SEQEVAL_MISSING = (
    "span-level F1 needs the seqeval package; install it with pip install 'rnnkit[tagging]' "
    "(or pip install seqeval)"
)


def tagging_report(
    gold: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    tags: Sequence[str],
    scheme: str | None = "auto",
) -> dict[str, Any]:
    """A JSON-ready summary of PREDICTED against GOLD (tag strings, sentence by sentence).

    Args:
        gold, predicted: one list of tags per sentence, of equal lengths.
        tags: the tag set, in the order of the per-tag table and the confusion matrix;
            every tag of GOLD and PREDICTED must be in it.
        scheme: the span scheme; ``"auto"`` detects it from GOLD (``tag_scheme``), None
            skips the span figures.

    Returns:
        ``token_accuracy``, ``macro_f1``, ``tokens``, ``per_tag`` (tag -> precision,
        recall, f1, support), ``tags``, ``confusion`` (rows: gold tags), ``scheme``, and
        for a span scheme ``spans`` (``precision``, ``recall``, ``f1``, ``support`` and
        ``per_type``).
    """
    if len(gold) != len(predicted):
        raise ValueError(f"predicted: expected {len(gold)} sentences, got {len(predicted)}")
    for index, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"predicted[{index}]: expected {len(g)} tags, got {len(p)}")
    index_of = {tag: i for i, tag in enumerate(tags)}
    ids = []
    for name, sentences in (("gold", gold), ("predicted", predicted)):
        flat = [tag for sentence in sentences for tag in sentence]
        unknown = sorted(set(flat) - set(index_of))
        if unknown:
            raise ValueError(f"{name}: tags outside the tag set: {', '.join(unknown[:10])}")
        ids.append(np.array([index_of[tag] for tag in flat], dtype=np.int64))
    table = classification_report(ids[0], ids[1], list(tags))
    report: dict[str, Any] = {
        "token_accuracy": table["accuracy"],
        "macro_f1": table["macro_f1"],
        "tokens": table["examples"],
        "per_tag": table["per_class"],
        "tags": table["labels"],
        "confusion": table["confusion"],
    }
    report["scheme"] = tag_scheme(gold) if scheme == "auto" else scheme
    if report["scheme"] is not None:
        report["spans"] = span_scores(gold, predicted)
    return report


def span_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict:
    """Micro-averaged span ``precision``, ``recall``, ``f1``, the gold span count
    ``support``, and ``per_type`` (type -> the same four), by ``seqeval``."""
    try:
        from seqeval.metrics import classification_report as seqeval_report
        from seqeval.metrics import f1_score, precision_score, recall_score
    except ImportError as error:
        raise UserError(SEQEVAL_MISSING) from error
    gold, predicted = [list(s) for s in gold], [list(s) for s in predicted]
    per_type = seqeval_report(gold, predicted, output_dict=True, zero_division=0)
    types = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in per_type.items()
        if not name.endswith(" avg")
    }
    return {
        "precision": float(precision_score(gold, predicted, zero_division=0)),
        "recall": float(recall_score(gold, predicted, zero_division=0)),
        "f1": float(f1_score(gold, predicted, zero_division=0)),
        "support": sum(row["support"] for row in types.values()),
        "per_type": types,
    }


def format_tagging_report(report: dict[str, Any]) -> str:
    """The report as text for people: spans first (when there are any), then the per-tag
    table and the confusion matrix."""
    lines = []
    spans = report.get("spans")
    if spans is not None:
        lines.append(
            f"span F1 {spans['f1']:.4f} (precision {spans['precision']:.4f}, recall "
            f"{spans['recall']:.4f}, {spans['support']} gold spans, {report['scheme']})"
        )
    table = {
        "accuracy": report["token_accuracy"],
        "macro_f1": report["macro_f1"],
        "examples": report["tokens"],
        "per_class": report["per_tag"],
        "labels": report["tags"],
        "confusion": report["confusion"],
    }
    text = format_report(table).split("\n")
    text[0] = "token " + text[0].replace(" examples)", " tokens)")
    for number, line in enumerate(text):  # the table's headings speak of tags
        if line.startswith("class "):
            text[number] = line.replace("class", "tag  ", 1)
        elif line.startswith("confusion ("):
            text[number] = line.replace("class", "tag")
    return "\n".join(lines + text)
