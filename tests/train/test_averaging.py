"""Weight averaging: the bias-corrected moving average against a hand computation, the
swap in and out of a model, and the checks of a decay and of a saved average."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.config import ConfigError, validate
from rnnkit.nn import Linear
from rnnkit.train.averaging import (
    averaged_weights,
    restored_average,
    step_decay,
    update_average,
)
from rnnkit.train.settings import TrainingSettings, check_decay


def test_the_average_weighs_each_step_as_the_equation_says() -> None:
    rng = np.random.default_rng(0)
    steps = [{"w": rng.standard_normal((2, 3)), "b": rng.standard_normal(3)} for _ in range(5)]
    decay = 0.9
    average = {"w": np.full((2, 3), 123.0), "b": np.full(3, -7.0)}  # step 1 overwrites it
    for t, params in enumerate(steps, start=1):
        update_average(average, params, decay, t)
        # By hand: step s of t weighs (1 - decay) decay^(t-s) / (1 - decay^t).
        weights = [(1 - decay) * decay ** (t - s) / (1 - decay**t) for s in range(1, t + 1)]
        assert sum(weights) == pytest.approx(1)
        for name in average:
            expected = sum(w * p[name] for w, p in zip(weights, steps[:t], strict=True))
            np.testing.assert_allclose(average[name], expected, rtol=1e-12, err_msg=name)


def test_the_step_decay_starts_at_0_and_tends_to_the_decay() -> None:
    assert step_decay(0.999, 1) == 0
    assert step_decay(0.5, 2) == pytest.approx(0.5 * 0.5 / 0.75)  # the two steps: 1/3, 2/3
    assert step_decay(0.999, 100_000) == pytest.approx(0.999, abs=1e-12)
    assert all(step_decay(0.99, t) < step_decay(0.99, t + 1) < 0.99 for t in range(1, 500))


def test_a_float32_average_stays_float32() -> None:
    average = {"w": np.zeros(4, np.float32)}
    update_average(average, {"w": np.ones(4, np.float32)}, 0.999, 2)
    assert average["w"].dtype == np.float32


def test_averaged_weights_swap_in_and_put_the_raw_weights_back_bit_for_bit() -> None:
    model = Linear(3, 2, rng=0)
    raw = model.state_dict()
    arrays = dict(model.params)  # the optimizer's references must stay valid
    average = {name: value + 1 for name, value in raw.items()}
    with averaged_weights(model, average):
        for name in raw:
            np.testing.assert_array_equal(model.params[name], average[name])
            assert model.params[name] is arrays[name]
    for name in raw:
        np.testing.assert_array_equal(model.params[name], raw[name])
    with pytest.raises(RuntimeError), averaged_weights(model, average):
        raise RuntimeError("a failing validation")
    for name in raw:
        np.testing.assert_array_equal(model.params[name], raw[name])
    with averaged_weights(model, None):  # no averaging: the raw weights
        for name in raw:
            np.testing.assert_array_equal(model.params[name], raw[name])


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.999])
def test_decays_that_are_accepted(decay: float) -> None:
    assert check_decay(decay) is None


@pytest.mark.parametrize("decay", [1.0, -0.1, 1.5, float("nan")])
def test_decays_that_are_refused(decay: float) -> None:
    with pytest.raises(ConfigError, match="ema: (must be above 0 and below 1|expected a finite)"):
        validate(TrainingSettings(ema=decay))


def test_a_saved_average_must_fit() -> None:
    average = {"w": np.zeros((2, 3), np.float32)}
    restored = restored_average(average, {"w": np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(restored["w"], 1)
    with pytest.raises(KeyError):
        restored_average(average, {"v": np.ones((2, 3))})
    with pytest.raises(ValueError, match="shape"):
        restored_average(average, {"w": np.ones((1, 3))})
