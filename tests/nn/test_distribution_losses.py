"""Forecasting losses: the torch oracle (float64) for each head, finite differences for
Student-t and quantile, digamma, sampling and quantile helpers, and bad input."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn.distribution_losses import (
    LOSSES,
    digamma,
    distribution_loss,
    gaussian_quantiles,
    num_params,
    point_forecast,
    quantile_function,
    sample,
    sample_paths,
    sample_quantiles,
)
from tests.gradcheck import assert_close, numerical_gradient

TOLERANCE = 1e-8
QUANTILES = (0.1, 0.5, 0.9)


def problem(loss: str, shape: tuple[int, ...] = (3, 4)) -> tuple[np.ndarray, np.ndarray]:
    """Raw head outputs ``(*shape, P)`` and targets ``shape`` in float64, seeded."""
    rng = np.random.default_rng(len(loss))
    raw = rng.standard_normal((*shape, num_params(loss, QUANTILES)))
    targets = 2.0 * rng.standard_normal(shape)
    return raw, targets


def torch_loss(
    torch: ModuleType,
    loss: str,
    raw: object,
    targets: object,
    reduction: str = "mean",
    quantiles: tuple[float, ...] = QUANTILES,
):
    """The same loss written with torch's own functions and distributions (the forecaster's
    oracle test uses it too)."""
    functional = torch.nn.functional
    if loss == "mse":
        terms = (raw[..., 0] - targets) ** 2
    elif loss == "mae":
        terms = (raw[..., 0] - targets).abs()
    elif loss == "quantile":
        q = torch.tensor(quantiles, dtype=torch.float64)
        error = targets[..., None] - raw
        terms = torch.maximum(q * error, (q - 1) * error)
    else:
        sigma = functional.softplus(raw[..., 1]) + 1e-6
        if loss == "gaussian":
            dist = torch.distributions.Normal(raw[..., 0], sigma)
        else:
            nu = 2.0 + functional.softplus(raw[..., 2])
            dist = torch.distributions.StudentT(nu, raw[..., 0], sigma)
        terms = -dist.log_prob(targets)
    return terms.sum() if reduction == "sum" else terms.mean()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_and_gradient_match_torch(torch: ModuleType, loss: str, reduction: str) -> None:
    raw, targets = problem(loss)
    ours, grad = distribution_loss(loss, raw, targets, QUANTILES, reduction)
    raw_t = torch.from_numpy(raw.copy()).requires_grad_()
    theirs = torch_loss(torch, loss, raw_t, torch.from_numpy(targets), reduction)
    theirs.backward()
    assert abs(ours - theirs.item()) <= TOLERANCE * max(1.0, abs(theirs.item()))
    assert_close(grad, raw_t.grad, TOLERANCE)


def test_student_t_far_tails_and_large_df_match_torch(torch: ModuleType) -> None:
    """Outliers (z ~ 50), tiny and huge scales and df, where the log terms matter most."""
    raw = np.array([[0.0, -8.0, -6.0], [1.0, 3.0, 12.0], [-2.0, 0.5, 0.0], [5.0, -2.0, 30.0]])
    targets = np.array([0.01, 100.0, 40.0, -3.0])
    ours, grad = distribution_loss("studentt", raw, targets)
    raw_t = torch.from_numpy(raw.copy()).requires_grad_()
    theirs = torch_loss(torch, "studentt", raw_t, torch.from_numpy(targets), "mean")
    theirs.backward()
    assert abs(ours - theirs.item()) <= TOLERANCE * abs(theirs.item())
    assert_close(grad, raw_t.grad, TOLERANCE)


@pytest.mark.parametrize("loss", ["studentt", "quantile", "gaussian"])
def test_finite_differences(loss: str) -> None:
    raw, targets = problem(loss, (2, 3))
    _, analytic = distribution_loss(loss, raw, targets, QUANTILES)
    numeric = numerical_gradient(lambda: distribution_loss(loss, raw, targets, QUANTILES)[0], raw)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_quantile_loss_by_hand() -> None:
    """y = 1, predictions 0 (under) and 3 (over) at q = 0.9: 0.9 * 1 and 0.1 * 2."""
    raw = np.array([[0.0], [3.0]])
    loss, grad = distribution_loss("quantile", raw, np.array([1.0, 1.0]), (0.9,), "sum")
    assert loss == pytest.approx(0.9 + 0.2)
    np.testing.assert_allclose(grad, [[-0.9], [0.1]])


def test_digamma_against_torch(torch: ModuleType) -> None:
    x = np.array([1e-3, 0.5, 1.0, 1.5, 2.0, 3.3, 7.0, 9.999, 10.5, 100.0, 1e6])
    assert_close(digamma(x), torch.special.digamma(torch.from_numpy(x)), 1e-12)


def test_gaussian_quantiles_match_torch_icdf(torch: ModuleType) -> None:
    raw, _ = problem("gaussian")
    levels = (0.05, 0.5, 0.8)
    sigma = torch.nn.functional.softplus(torch.from_numpy(raw[..., 1])) + 1e-6
    dist = torch.distributions.Normal(torch.from_numpy(raw[..., 0]), sigma)
    theirs = torch.stack([dist.icdf(torch.tensor(q, dtype=torch.float64)) for q in levels], -1)
    assert_close(gaussian_quantiles(raw, levels), theirs, 1e-12)


@pytest.mark.parametrize("loss", ["gaussian", "studentt"])
def test_parametric_samples_have_the_predicted_mean_and_spread(loss: str) -> None:
    raw = np.array([[2.0, 0.3, 1.0]])[:, : num_params(loss)]
    draws = sample_paths(loss, raw, 40_000, np.random.default_rng(0))
    assert draws.shape == (40_000, 1)
    sigma = np.log1p(np.exp(0.3)) + 1e-6
    nu = 2.0 + np.log1p(np.e)
    std = sigma * (np.sqrt(nu / (nu - 2.0)) if loss == "studentt" else 1.0)
    assert abs(draws.mean() - 2.0) < 4 * std / np.sqrt(40_000)
    # the 75% quantile of N(0, 1), and of Student's t with nu = 3.3133 (scipy.stats.t.ppf)
    upper_quartile = 0.674490 if loss == "gaussian" else 0.755618
    assert np.median(np.abs(draws - 2.0)) == pytest.approx(sigma * upper_quartile, rel=0.02)


def test_quantile_samples_reproduce_the_predicted_quantiles() -> None:
    raw = np.array([[-1.0, 0.0, 4.0]])  # levels 0.1, 0.5, 0.9
    draws = sample_paths("quantile", raw, 50_000, np.random.default_rng(1), QUANTILES)
    np.testing.assert_allclose(sample_quantiles(draws, QUANTILES)[0], raw[0], atol=0.05)
    assert draws.min() == -1.0 and draws.max() == 4.0  # flat beyond the extreme levels


def test_quantile_function_interpolates_and_sorts_crossings() -> None:
    raw = np.array([[2.0, 0.0, 4.0]])  # crossing: 0.1 -> 2, 0.5 -> 0
    u = np.array([0.3])
    assert quantile_function(raw, QUANTILES, u)[0] == pytest.approx(1.0)  # sorted: 0, 2, 4
    assert point_forecast("quantile", np.array([[-1.0, 0.5, 4.0]]), QUANTILES)[0] == 0.5
    assert quantile_function(np.array([[3.0]]), (0.5,), np.array([0.9]))[0] == 3.0


def test_point_heads_sample_their_point() -> None:
    raw = np.array([[1.5], [-2.0]])
    for loss in ("mse", "mae"):
        np.testing.assert_array_equal(sample(loss, raw, np.random.default_rng(0)), [1.5, -2.0])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: num_params("poisson"), "loss: expected one of"),
        (lambda: num_params("quantile", ()), "quantiles: the quantile loss needs"),
        (lambda: num_params("quantile", (0.5, 1.0)), "quantiles: every level"),
        (
            lambda: distribution_loss("gaussian", np.zeros((3, 1)), np.zeros(3)),
            r"raw: .*\(\.\.\., 2\)",
        ),
        (lambda: distribution_loss("mse", np.zeros((3, 1)), np.zeros(4)), "targets: expected"),
        (lambda: distribution_loss("mae", np.zeros((3, 1), int), np.zeros(3)), "raw: expected a"),
    ],
)
def test_bad_input_names_the_parameter(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
