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
