"""Forecaster options the main oracle tests leave at their defaults: without the window skip
and without normalisation, against torch in float64; and every gradient against central
differences, with dropout between the layers and before the head."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn.distribution_losses import LOSSES
from tests.gradcheck import assert_close, numerical_gradient
from tests.models.test_forecaster import batch, check_against_torch, make_model


@pytest.mark.parametrize(
    ("skip", "normalize"),
    [(False, "none"), (False, "last"), (False, "season"), (True, "none")],
    ids=["no_skip-none", "no_skip-last", "no_skip-season", "skip-none"],
)
@pytest.mark.parametrize("decoder", ["direct", "autoregressive"])
@pytest.mark.parametrize("loss", LOSSES)
def test_skip_and_normalization_off_match_torch(
    torch: ModuleType, loss: str, decoder: str, skip: bool, normalize: str
) -> None:
    model = make_model(loss=loss, decoder=decoder, skip=skip, normalize=normalize, season=3)
    assert model.skip is skip and model.normalize == normalize
    check_against_torch(torch, model)


@pytest.mark.parametrize("divisor", ["window_scale", "window_mean"])
def test_per_window_divisors_without_normalization_match_torch(
    torch: ModuleType, divisor: str
) -> None:
    for decoder in ("direct", "autoregressive"):
        check_against_torch(
            torch, make_model(decoder=decoder, normalize="none", skip=False, **{divisor: True})
        )


@pytest.mark.parametrize(
    ("decoder", "cell", "loss"),
    [("direct", "lstm", "studentt"), ("autoregressive", "gru", "gaussian")],
)
def test_every_gradient_matches_finite_differences_with_dropout(
    decoder: str, cell: str, loss: str
) -> None:
    # Restoring the generator before each forward draws the same dropout masks every time,
    # so the loss is a fixed function of the weights. About 8 entries of each parameter,
    # a strided view spread over every gate, keep the test fast.
    model = make_model(decoder=decoder, cell=cell, loss=loss, num_layers=2, dropout=0.3)
    data = batch(model)
    start = model.rng.bit_generator.state
    model.zero_grad()
    model.loss_and_backward(**data)

    def replayed() -> float:
        model.rng.bit_generator.state = start
        return model.loss(model.forward(**data), data["future_target"])[0]

    assert replayed() != model.eval().loss(model.forward(**data), data["future_target"])[0]
    model.train()
    for name, param in model.params.items():
        step = max(1, param.size // 8)
        entries = param.reshape(-1)[::step]
        assert np.shares_memory(entries, param)
        analytic = model.grads[name].reshape(-1)[::step]
        assert np.any(analytic != 0.0), name
        try:
            assert_close(analytic, numerical_gradient(replayed, entries), tol=1e-6)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
