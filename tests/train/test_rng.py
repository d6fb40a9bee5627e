"""Random generator state: captured as JSON, restored in place."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.train.rng import restore_rng, rng_state


def test_restored_generator_draws_the_same_numbers() -> None:
    rng = np.random.default_rng(3)
    rng.random(5)
    saved = json.loads(json.dumps(rng_state(rng)))  # survives a trip through config.json
    expected = rng.random(7)
    holder = rng  # someone else holding the same generator sees the restored state
    restore_rng(rng, saved)
    np.testing.assert_array_equal(holder.random(7), expected)


def test_state_of_another_bit_generator_is_refused() -> None:
    state = rng_state(np.random.Generator(np.random.MT19937(0)))
    with pytest.raises(ValueError, match="MT19937"):
        restore_rng(np.random.default_rng(0), state)


@pytest.mark.parametrize(
    ("field", "value"),
    [("inc", -1), ("inc", 2**200), ("uinteger", 2**40)],
)
def test_a_number_out_of_range_is_a_value_error(field: str, value: int) -> None:
    # an OverflowError, which a resume took for a bug: a traceback instead of one line
    state = rng_state(np.random.default_rng(0))
    (state["state"] if field in state["state"] else state)[field] = value
    with pytest.raises(ValueError, match="random state"):
        restore_rng(np.random.default_rng(0), state)
