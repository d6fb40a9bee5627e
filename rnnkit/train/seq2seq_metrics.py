"""How good sequence-to-sequence outputs are, against one or several references each.

Every output ``y`` (a list of tokens) has references ``R = {r_1, ...}`` (one for
translation-like data; a word's several pronunciations for G2P). ``r*`` is the reference
closest to ``y`` in edit distance (the first of equals)::

    exact match        share of outputs equal to some reference (sequence accuracy;
                       1 - exact match is G2P's word error rate)
    token error rate   sum_i d(y_i, r*_i) / sum_i |r*_i|   (d: Levenshtein distance over
                       tokens; PER for phonemes, CER for characters, WER for words)
    token accuracy     sum_i #{t : y_i[t] = r*_i[t]} / sum_i |r*_i|   (position by position)
    BLEU               sacreBLEU's corpus BLEU of the outputs joined by spaces against all
                       references (for word-level targets)

Edit distances come from ``rapidfuzz`` and BLEU from ``sacrebleu``, the ``seq2seq`` extra
(``pip install "rnnkit[seq2seq]"``); without them ``corpus_bleu`` and ``closest_references``
raise a one-line ``UserError``, and ``sequence_scores`` gives the figures it can
(``missing_scores`` names the others and what they need).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.errors import UserError

Tokens = Sequence[str]
INSTALL = 'pip install "rnnkit[seq2seq]"'


def _levenshtein() -> Any:
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        raise UserError(f"token error rates need the rapidfuzz package: {INSTALL}") from None
    return Levenshtein


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:
        raise UserError(f"BLEU needs the sacrebleu package: {INSTALL}") from None
    return sacrebleu


def missing_scores(bleu: bool) -> str | None:
    """Which of ``sequence_scores``'s figures its packages' absence leaves out, and how to
    install them, for a note: None when nothing is missing.

    Args:
        bleu: whether BLEU is asked for (word targets), which needs ``sacrebleu``.
    """
    missing = []
    if not _installed("rapidfuzz"):
        missing.append("token accuracy and the token error rate need rapidfuzz")
    if bleu and not _installed("sacrebleu"):
        missing.append("BLEU needs sacrebleu")
    return f"{'; '.join(missing)}: {INSTALL}" if missing else None


def _installed(package: str) -> bool:
    try:
        __import__(package)
    except ImportError:
        return False
    return True


def _check(outputs: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> None:
    if len(outputs) != len(references):
        raise ValueError(
            f"outputs, references: one list of references per output, got {len(outputs)} "
            f"outputs and {len(references)} reference lists"
        )
    if not outputs:
        raise ValueError("outputs: expected at least one output to score")
    for index, refs in enumerate(references):
        if not refs:
            raise ValueError(f"references[{index}]: expected at least one reference")


def closest_references(
    outputs: Sequence[Tokens], references: Sequence[Sequence[Tokens]]
) -> tuple[list[Tokens], list[int]]:
    """For each output, ``(its closest reference, the edit distance to it)``."""
    _check(outputs, references)
    distance = _levenshtein().distance
    closest, distances = [], []
    for output, refs in zip(outputs, references, strict=True):
        scored = [(distance(list(output), list(ref)), i) for i, ref in enumerate(refs)]
        best, index = min(scored)
        closest.append(refs[index])
        distances.append(int(best))
    return closest, distances


def exact_match(outputs: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """The share of outputs equal to one of their references."""
    _check(outputs, references)
    hits = sum(
        any(list(output) == list(ref) for ref in refs)
        for output, refs in zip(outputs, references, strict=True)
    )
    return hits / len(outputs)


def sequence_scores(
    outputs: Sequence[Tokens], references: Sequence[Sequence[Tokens]], bleu: bool = False
) -> dict[str, float]:
    """``exact_match``, ``token_error_rate`` and ``token_accuracy`` (and ``bleu`` when asked),
    as the module docstring defines them; rates are fractions, BLEU is 0-100. A figure whose
    package is not installed is left out (``missing_scores`` says which)."""
    scores = {"exact_match": exact_match(outputs, references)}
    if _installed("rapidfuzz"):
        closest, distances = closest_references(outputs, references)
        total = sum(len(ref) for ref in closest)
        matches = sum(
            sum(a == b for a, b in zip(output, ref, strict=False))
            for output, ref in zip(outputs, closest, strict=True)
        )
        scores["token_error_rate"] = sum(distances) / max(total, 1)
        scores["token_accuracy"] = matches / max(total, 1)
    if bleu and _installed("sacrebleu"):
        scores["bleu"] = corpus_bleu(outputs, references)
    return scores


def corpus_bleu(outputs: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """sacreBLEU's corpus BLEU (0-100) of tokenised outputs against their references.

    Tokens are joined by spaces and sacreBLEU's tokenizer is off (``tokenize="none"``), so
    the n-grams are the model's own tokens.
    """
    _check(outputs, references)
    sacrebleu = _sacrebleu()
    most = max(len(refs) for refs in references)
    streams = [
        [" ".join(refs[k]) if k < len(refs) else None for refs in references] for k in range(most)
    ]
    hypotheses = [" ".join(output) for output in outputs]
    return float(sacrebleu.corpus_bleu(hypotheses, streams, tokenize="none").score)
