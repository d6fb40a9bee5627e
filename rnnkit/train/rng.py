"""Capture and restore a NumPy random generator, so a resumed run draws what it would have.

A ``np.random.Generator``'s whole state is its bit generator's ``state`` dict (for the
default PCG64: two 128-bit integers and a buffered 32-bit value). It holds only ints and
strings, so it goes into a JSON file as it is: Python's ``json`` writes integers of any size.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A JSON-ready copy of RNG's state."""
    return copy.deepcopy(rng.bit_generator.state)


def restore_rng(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Put RNG back into STATE (from ``rng_state``), in place: holders of RNG see the change.

    Raises ValueError if STATE belongs to another kind of bit generator, or holds a number
    the generator cannot take (an edited config.json: negative, or too large).
    """
    expected = type(rng.bit_generator).__name__
    if state.get("bit_generator") != expected:
        raise ValueError(
            f"random state is for {state.get('bit_generator')!r}, not this {expected} generator"
        )
    try:
        rng.bit_generator.state = copy.deepcopy(state)
    except OverflowError as error:
        raise ValueError(f"random state: {error}") from None
