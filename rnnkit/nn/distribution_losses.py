"""Forecasting losses on a head's raw outputs, with their gradients, and sampling from them.

A forecasting head emits ``P`` raw numbers per forecast value, on the last axis of an array
``raw`` of shape ``(..., P)``; the targets have shape ``(...)``. Every loss here returns
``(loss, grad_raw)``: the loss as a float (the mean over all terms for ``"mean"``, the sum
for ``"sum"``) and its gradient with respect to ``raw``, the shape of ``raw``.

===========  ===  ==========================================================================
loss         P    raw parameters -> distribution
===========  ===  ==========================================================================
mse          1    ``y_hat = raw[..., 0]``, the mean
mae          1    ``y_hat = raw[..., 0]``, the median
gaussian     2    ``mu = raw[..., 0]``, ``sigma = softplus(raw[..., 1]) + MIN_SCALE``
studentt     3    as gaussian, and ``nu = MIN_DF + softplus(raw[..., 2])`` degrees of freedom
quantile     Q    ``raw[..., j]`` is the predicted quantile at level ``q_j``
===========  ===  ==========================================================================

with ``softplus(s) = log(1 + exp(s))`` and ``softplus'(s) = sigmoid(s)``. Keeping ``nu > 2``
(as GluonTS's DeepAR does) keeps the variance finite, so a sampled path cannot explode.

The negative log-likelihoods, per term, with ``z = (y - mu) / sigma``:

    gaussian:  0.5 log(2 pi) + log sigma + 0.5 z^2
    studentt:  -lgamma((nu+1)/2) + lgamma(nu/2) + 0.5 log(pi nu) + log sigma
               + (nu+1)/2 log(1 + z^2/nu)

the pinball loss of quantile level ``q`` with ``e = y - y_hat``: ``max(q e, (q - 1) e)``,
MSE ``(y_hat - y)^2`` and MAE ``|y_hat - y|``. Their gradients are in each function's
docstring; ``tests/nn/test_distribution_losses.py`` checks them against PyTorch
(``torch.distributions.Normal`` / ``StudentT``) and by finite differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Literal

import numpy as np

from rnnkit.nn.losses import _float_array, _scale, mse

Reduction = Literal["mean", "sum"]
LOSSES = ("mse", "mae", "gaussian", "studentt", "quantile")
MIN_SCALE = 1e-6  # sigma never reaches 0, so log sigma and z stay finite
MIN_DF = 2.0  # Student-t degrees of freedom above this: a finite variance
_LOG_2PI = math.log(2.0 * math.pi)
_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


# -- link functions and special functions ----------------------------------------------------


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))`` computed as ``max(x, 0) + log1p(exp(-|x|))``: no overflow."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, the derivative of ``softplus``, from ``exp(-|x|)``."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def digamma(x: np.ndarray) -> np.ndarray:
    """``psi(x) = d/dx lgamma(x)`` for ``x > 0``, to about 1e-14.

    The recurrence ``psi(x) = psi(x + 1) - 1/x`` lifts ``x`` to at least 10, where the
    asymptotic series ``log x - 1/(2x) - sum_k B_2k / (2k x^2k)`` has converged.
    """
    x = np.array(x, dtype=np.float64)
    shift = np.zeros_like(x)
    while np.any(x < 10.0):
        small = x < 10.0
        shift = shift - np.where(small, 1.0 / np.where(small, x, 1.0), 0.0)
        x = np.where(small, x + 1.0, x)
    inv2 = 1.0 / (x * x)
    series = inv2 * (
        1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 * (1 / 132))))
    )
    return shift + np.log(x) - 0.5 / x - series


# -- raw parameters -> distribution parameters -----------------------------------------------


def num_params(loss: str, quantiles: Sequence[float] = ()) -> int:
    """``P``, the raw outputs per forecast value that LOSS reads."""
    check_loss(loss, quantiles)
    return {"mse": 1, "mae": 1, "gaussian": 2, "studentt": 3}.get(loss, len(quantiles))


def check_loss(loss: str, quantiles: Sequence[float] = ()) -> None:
    """Raise ValueError for an unknown LOSS, or quantile levels outside (0, 1) for "quantile"."""
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {', '.join(LOSSES)}, got {loss!r}")
    if loss == "quantile":
        if not quantiles:
            raise ValueError("quantiles: the quantile loss needs at least one level")
        bad = [q for q in quantiles if not 0.0 < q < 1.0]
        if bad:
            raise ValueError(f"quantiles: every level must be in (0, 1), got {bad[0]!r}")


def scale_of(raw_scale: np.ndarray) -> np.ndarray:
    """``sigma = softplus(raw_scale) + MIN_SCALE``."""
    return softplus(raw_scale) + MIN_SCALE


def df_of(raw_df: np.ndarray) -> np.ndarray:
    """``nu = MIN_DF + softplus(raw_df)``."""
    return MIN_DF + softplus(raw_df)


def _checked(raw: np.ndarray, targets: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    raw = _float_array("raw", raw)
    if raw.ndim == 0 or raw.shape[-1] != size:
        raise ValueError(f"raw: expected shape (..., {size}), got {raw.shape}")
    targets = np.asarray(targets, dtype=raw.dtype)
    if targets.shape != raw.shape[:-1]:
        raise ValueError(f"targets: expected shape {raw.shape[:-1]}, got {targets.shape}")
    return raw, targets


# -- losses ----------------------------------------------------------------------------------


def point_mse(
    raw: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Squared error of ``y_hat = raw[..., 0]``: ``(y_hat - y)^2``; gradient ``2 (y_hat - y)``."""
    raw, targets = _checked(raw, targets, 1)
    loss, grad = mse(raw[..., 0], targets, reduction)
    return loss, grad[..., None]


def point_mae(
    raw: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Absolute error ``|y_hat - y|``; gradient ``sign(y_hat - y)`` (0 at a tie, as torch)."""
    raw, targets = _checked(raw, targets, 1)
    scale = _scale(targets.size, reduction)
    diff = raw[..., 0] - targets
    return float(np.sum(np.abs(diff))) * scale, (np.sign(diff) * scale)[..., None]


def gaussian_nll(
    raw: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Gaussian negative log-likelihood of ``targets``; ``raw[..., :2] = (mu, raw_scale)``.

    With ``sigma = softplus(s) + MIN_SCALE`` and ``z = (y - mu) / sigma``::

        nll = 0.5 log(2 pi) + log sigma + 0.5 z^2
        dnll/dmu = -z / sigma
        dnll/ds  = (1 - z^2) / sigma * sigmoid(s)
    """
    raw, targets = _checked(raw, targets, 2)
    scale = _scale(targets.size, reduction)
    mu, s = raw[..., 0], raw[..., 1]
    sigma = scale_of(s)
    z = (targets - mu) / sigma
    nll = 0.5 * _LOG_2PI + np.log(sigma) + 0.5 * z * z
    grad = np.empty_like(raw)
    grad[..., 0] = -z / sigma * scale
    grad[..., 1] = (1.0 - z * z) / sigma * sigmoid(s) * scale
    return float(np.sum(nll)) * scale, grad


def student_t_nll(
    raw: np.ndarray, targets: np.ndarray, reduction: Reduction = "mean"
) -> tuple[float, np.ndarray]:
    """Student-t negative log-likelihood; ``raw[..., :3] = (mu, raw_scale, raw_df)``.

    With ``sigma = softplus(s) + MIN_SCALE``, ``nu = MIN_DF + softplus(d)``,
    ``z = (y - mu) / sigma`` and ``psi`` the digamma function::

        nll = -lgamma((nu+1)/2) + lgamma(nu/2) + 0.5 log(pi nu) + log sigma
              + (nu+1)/2 log(1 + z^2/nu)
        dnll/dmu = -(nu+1) z / (sigma (nu + z^2))
        dnll/ds  = (1/sigma - (nu+1) z^2 / (sigma (nu + z^2))) * sigmoid(s)
        dnll/dd  = (-psi((nu+1)/2)/2 + psi(nu/2)/2 + 1/(2 nu) + log(1 + z^2/nu)/2
                    - (nu+1) z^2 / (2 nu (nu + z^2))) * sigmoid(d)
    """
    raw, targets = _checked(raw, targets, 3)
    scale = _scale(targets.size, reduction)
    mu, s, d = raw[..., 0], raw[..., 1], raw[..., 2]
    sigma, nu = scale_of(s), df_of(d)
    z = (targets - mu) / sigma
    z2 = z * z
    log_term = np.log1p(z2 / nu)
    nll = (
        -_lgamma((nu + 1.0) / 2.0)
        + _lgamma(nu / 2.0)
        + 0.5 * np.log(math.pi * nu)
        + np.log(sigma)
        + 0.5 * (nu + 1.0) * log_term
    )
    ratio = (nu + 1.0) / (nu + z2)  # (nu+1) / (nu + z^2)
    grad = np.empty_like(raw)
    grad[..., 0] = -ratio * z / sigma * scale
    grad[..., 1] = (1.0 - ratio * z2) / sigma * sigmoid(s) * scale
    dnu = 0.5 * (
        digamma(nu / 2.0) - digamma((nu + 1.0) / 2.0) + 1.0 / nu + log_term - ratio * z2 / nu
    )
    grad[..., 2] = dnu * sigmoid(d) * scale
    return float(np.sum(nll)) * scale, grad


def quantile_loss(
    raw: np.ndarray,
    targets: np.ndarray,
    quantiles: Sequence[float],
    reduction: Reduction = "mean",
) -> tuple[float, np.ndarray]:
    """Pinball loss of the predicted quantiles ``raw[..., j]`` at levels ``quantiles[j]``.

    With ``e_j = y - y_hat_j``::

        loss_j = max(q_j e_j, (q_j - 1) e_j)
        dloss_j/dy_hat_j = -q_j if e_j > 0, 1 - q_j if e_j < 0, 1/2 - q_j at a tie

    (at a tie, the mean of the two one-sided slopes, as ``torch.maximum``'s gradient).
    ``"mean"`` divides by the number of terms, ``targets.size * Q``.
    """
    check_loss("quantile", quantiles)
    raw, targets = _checked(raw, targets, len(quantiles))
    q = np.asarray(quantiles, dtype=raw.dtype)
    scale = _scale(raw.size, reduction)
    error = targets[..., None] - raw
    loss = np.maximum(q * error, (q - 1.0) * error)
    slope = np.where(error > 0, -q, np.where(error < 0, 1.0 - q, 0.5 - q))
    return float(np.sum(loss)) * scale, slope * scale


def distribution_loss(
    loss: str,
    raw: np.ndarray,
    targets: np.ndarray,
    quantiles: Sequence[float] = (),
    reduction: Reduction = "mean",
) -> tuple[float, np.ndarray]:
    """``(loss, grad_raw)`` of the head LOSS (one of ``LOSSES``); see the functions above."""
    check_loss(loss, quantiles)
    if loss == "quantile":
        return quantile_loss(raw, targets, quantiles, reduction)
    function = {
        "mse": point_mse,
        "mae": point_mae,
        "gaussian": gaussian_nll,
        "studentt": student_t_nll,
    }[loss]
    return function(raw, targets, reduction)


# -- forecasts from raw parameters -----------------------------------------------------------


def point_forecast(loss: str, raw: np.ndarray, quantiles: Sequence[float] = ()) -> np.ndarray:
    """The point forecast ``(...)``: the mean (mse, gaussian, studentt), the median (mae,
    quantile: the predicted quantile function at 0.5, interpolated between levels)."""
    check_loss(loss, quantiles)
    if loss != "quantile":
        return np.array(raw[..., 0])
    return quantile_function(raw, quantiles, np.full(raw.shape[:-1], 0.5))


def quantile_function(raw: np.ndarray, quantiles: Sequence[float], u: np.ndarray) -> np.ndarray:
    """The predicted quantile function at ``u`` (shape ``raw.shape[:-1]``), element-wise.

    Between levels it is linear in ``u``; below the lowest and above the highest level it is
    flat (the extreme predicted quantile). Predicted values are sorted first, so crossing
    quantiles still give a non-decreasing function.
    """
    levels = np.asarray(quantiles, dtype=np.float64)
    order = np.argsort(levels)
    levels = levels[order]
    values = np.sort(raw[..., order], axis=-1)
    if len(levels) == 1:
        return np.broadcast_to(values[..., 0], np.shape(u)).copy()
    u = np.clip(u, levels[0], levels[-1])
    upper = np.clip(np.searchsorted(levels, u, side="right"), 1, len(levels) - 1)
    lower = upper - 1
    left, right = levels[lower], levels[upper]
    take = np.take_along_axis
    v_left = take(values, lower[..., None], axis=-1)[..., 0]
    v_right = take(values, upper[..., None], axis=-1)[..., 0]
    weight = (u - left) / (right - left)
    return v_left + weight * (v_right - v_left)


def sample(
    loss: str,
    raw: np.ndarray,
    rng: np.random.Generator,
    quantiles: Sequence[float] = (),
) -> np.ndarray:
    """One draw ``(...)`` from the predicted distribution of each value.

    gaussian: ``mu + sigma * N(0, 1)``; studentt: ``mu + sigma * T(nu)``; quantile: the
    predicted quantile function (``quantile_function``) at ``u ~ U(0, 1)``, i.e. inverse-CDF
    sampling of the piecewise-linear distribution the levels describe (clamped outside
    them); mse and mae have no spread, and give the point forecast.
    """
    check_loss(loss, quantiles)
    shape = raw.shape[:-1]
    if loss == "gaussian":
        return raw[..., 0] + scale_of(raw[..., 1]) * rng.standard_normal(shape)
    if loss == "studentt":
        draws = rng.standard_t(df_of(raw[..., 2]), size=shape)
        return raw[..., 0] + scale_of(raw[..., 1]) * draws
    if loss == "quantile":
        return quantile_function(raw, quantiles, rng.random(shape))
    return np.array(raw[..., 0])


def sample_paths(
    loss: str,
    raw: np.ndarray,
    num_samples: int,
    rng: np.random.Generator,
    quantiles: Sequence[float] = (),
) -> np.ndarray:
    """``num_samples`` independent draws ``(num_samples, ...)`` of every value of ``raw``.

    For a direct multi-horizon head the steps of a path are drawn independently (the head
    predicts marginals only); the autoregressive decoder makes dependent paths itself.
    """
    return sample(loss, np.broadcast_to(raw, (num_samples, *raw.shape)), rng, quantiles)


def gaussian_quantiles(raw: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Exact quantiles ``(..., len(levels))`` of the Gaussian head: ``mu + sigma Phi^-1(q)``."""
    z = np.array([NormalDist().inv_cdf(q) for q in levels])
    return raw[..., 0, None] + scale_of(raw[..., 1])[..., None] * z


def sample_quantiles(samples: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Empirical quantiles ``(..., len(levels))`` of draws on axis 0 (linear interpolation)."""
    return np.moveaxis(np.quantile(samples, levels, axis=0), 0, -1)
