"""CRF: log-partition, score, gradient and Viterbi against brute-force enumeration of every
tag sequence on tiny sizes; gradients by finite differences; padding changes nothing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit.nn.crf import CRF
from tests.gradcheck import assert_close, numerical_gradient

K = 3
LENGTHS = np.array([4, 1, 3, 2])


def make_crf(reduction: str = "sum") -> CRF:
    crf = CRF(K, reduction=reduction, dtype=np.float64, rng=0)
    rng = np.random.default_rng(5)
    for value in crf.params.values():  # larger than the initial range: a sharper test
        value[...] = rng.normal(0.0, 1.0, value.shape)
    return crf


def batch(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    emissions = rng.normal(0.0, 1.5, (len(LENGTHS), LENGTHS.max(), K))
    tags = rng.integers(0, K, emissions.shape[:2])
    tags[np.arange(LENGTHS.max())[None, :] >= LENGTHS[:, None]] = -1  # padding
    return emissions, tags


def brute_scores(crf: CRF, emissions: np.ndarray) -> dict[tuple[int, ...], float]:
    """``score(y)`` of every sequence ``y`` of one unpadded row ``(n, K)``, by the formula."""
    A, s, f = (crf.params[n] for n in ("transitions", "start_transitions", "end_transitions"))
    scores = {}
    for path in itertools.product(range(K), repeat=len(emissions)):
        value = s[path[0]] + f[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
        value += sum(A[a, b] for a, b in zip(path, path[1:], strict=False))
        scores[path] = value
    return scores


def test_log_partition_score_and_viterbi_match_enumeration() -> None:
    crf = make_crf()
    emissions, tags = batch()
    log_z = crf.log_partition(emissions, LENGTHS)
    scores = crf.score(emissions, tags, LENGTHS)
    decoded = crf.decode(emissions, LENGTHS)
    for row, n in enumerate(LENGTHS):
        every = brute_scores(crf, emissions[row, :n])
        values = np.array(list(every.values()))
        assert log_z[row] == pytest.approx(np.log(np.exp(values).sum()), rel=1e-12)
        assert scores[row] == pytest.approx(every[tuple(tags[row, :n])], rel=1e-12)
        best = max(every, key=every.get)
        assert tuple(decoded[row, :n]) == best
        assert np.all(decoded[row, n:] == -1)


def counts(path: tuple[int, ...], n_steps: int) -> dict[str, np.ndarray]:
    """How often PATH uses each emission (as ``(T, K)``), transition, start and end score."""
    found = {
        "emissions": np.zeros((n_steps, K)),
        "transitions": np.zeros((K, K)),
        "start_transitions": np.zeros(K),
        "end_transitions": np.zeros(K),
    }
    for t, tag in enumerate(path):
        found["emissions"][t, tag] += 1
    for a, b in zip(path, path[1:], strict=False):
        found["transitions"][a, b] += 1
    found["start_transitions"][path[0]] += 1
    found["end_transitions"][path[-1]] += 1
    return found


@pytest.mark.parametrize("reduction", ["sum", "mean", "token_mean"])
def test_gradient_is_expected_counts_minus_gold_counts(reduction: str) -> None:
    # dNLL/dtheta = E_p[count of theta's score] - count in the gold path, summed over rows.
    crf = make_crf(reduction)
    emissions, tags = batch()
    loss = crf.forward(emissions, tags, LENGTHS)
    grad_emissions = crf.backward()
    steps = LENGTHS.max()
    expected = {name: np.zeros_like(value) for name, value in crf.params.items()}
    expected["emissions"] = np.zeros_like(emissions)
    nll = 0.0
    for row, n in enumerate(LENGTHS):
        every = brute_scores(crf, emissions[row, :n])
        log_z = np.log(np.exp(np.array(list(every.values()))).sum())
        gold = tuple(tags[row, :n])
        nll += log_z - every[gold]
        for path, value in every.items():
            for name, count in counts(path, n).items():
                target = expected[name][row, :n] if name == "emissions" else expected[name]
                target += np.exp(value - log_z) * count
        for name, count in counts(gold, n).items():
            target = expected[name][row, :n] if name == "emissions" else expected[name]
            target -= count
    scale = {"sum": 1.0, "mean": 1 / len(LENGTHS), "token_mean": 1 / LENGTHS.sum()}[reduction]
    assert loss == pytest.approx(nll * scale, rel=1e-12)
    assert_close(grad_emissions, expected["emissions"] * scale, tol=1e-12)
    assert np.all(grad_emissions[np.arange(steps)[None, :] >= LENGTHS[:, None]] == 0)
    for name, grad in crf.grads.items():
        assert_close(grad, expected[name] * scale, tol=1e-12)


def test_gradient_matches_finite_differences() -> None:
    crf = make_crf("mean")
    emissions, tags = batch(3)
    crf.forward(emissions, tags, LENGTHS)
    grad_emissions = crf.backward(grad_loss=0.7)

    def loss() -> float:
        value = 0.7 * crf.forward(emissions, tags, LENGTHS)
        crf._cache = None
        return value

    assert_close(grad_emissions, numerical_gradient(loss, emissions), tol=1e-7)
    for name in crf.params:
        assert_close(crf.grads[name], numerical_gradient(loss, crf.params[name]), tol=1e-7)


def test_padding_changes_nothing() -> None:
    crf = make_crf()
    emissions, tags = batch()
    padded = np.concatenate([emissions, np.full((len(LENGTHS), 2, K), 50.0)], axis=1)
    padded_tags = np.concatenate([tags, np.full((len(LENGTHS), 2), 2)], axis=1)
    loss = crf.forward(emissions, tags, LENGTHS)
    grads = crf.backward()
    grads_params = {k: v.copy() for k, v in crf.grads.items()}
    crf.zero_grad()
    assert crf.forward(padded, padded_tags, LENGTHS) == pytest.approx(loss, rel=1e-14)
    padded_grads = crf.backward()
    assert_close(padded_grads[:, : LENGTHS.max()], grads, tol=1e-14)
    assert np.all(padded_grads[:, LENGTHS.max() :] == 0)
    for name, grad in crf.grads.items():
        assert_close(grad, grads_params[name], tol=1e-13)
    decoded = crf.decode(padded, LENGTHS)
    assert np.array_equal(decoded[:, : LENGTHS.max()], crf.decode(emissions, LENGTHS))
    for row, n in enumerate(LENGTHS):  # each row alone
        alone = crf.log_partition(emissions[row : row + 1, :n])
        assert alone[0] == pytest.approx(crf.log_partition(emissions, LENGTHS)[row], rel=1e-14)


def test_long_sequences_stay_finite() -> None:
    crf = CRF(5, dtype=np.float64, rng=0)
    emissions = np.random.default_rng(0).normal(0, 30.0, (2, 400, 5))
    tags = emissions.argmax(axis=2)
    loss = crf.forward(emissions, tags)
    grad = crf.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    for value in crf.params.values():  # no transition scores: Viterbi is the per-step argmax
        value.fill(0.0)
    assert np.array_equal(crf.decode(emissions), tags)


def test_bad_inputs_name_the_parameter() -> None:
    crf = CRF(K)
    with pytest.raises(ValueError, match="emissions"):
        crf.log_partition(np.zeros((2, 3, K + 1)))
    with pytest.raises(ValueError, match="lengths"):
        crf.log_partition(np.zeros((2, 3, K)), [1, 4])
    with pytest.raises(ValueError, match="tags"):
        crf.forward(np.zeros((1, 2, K)), [[0, K]])
    with pytest.raises(ValueError, match="reduction"):
        CRF(K, reduction="max")
    with pytest.raises(RuntimeError, match="forward"):
        crf.backward()
