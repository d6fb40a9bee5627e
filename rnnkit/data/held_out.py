"""Holding out a seeded random part of a data set for validation."""

from __future__ import annotations

import numpy as np

from rnnkit.errors import SettingError


def held_out_indices(
    count: int, fraction: float, seed: int, items: str, more: str, *settings: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(rest, held_out)``: the indices of COUNT ITEMS ("sentences"), each part sorted, with
    a seeded random FRACTION held out.

    Refuses (naming SETTINGS, for ``SettingError``) a FRACTION that leaves either part
    empty; MORE says what to give instead ("give more sentences or a separate valid file").
    A FRACTION of 0 is refused as holding out nothing (a task that trains without
    validation does not ask for a part then).
    """
    if fraction == 0:
        raise SettingError(
            f"val_fraction 0 holds out no {items} for validation, which this training needs; "
            "give val_fraction above 0 or a separate valid file",
            "val_fraction",
            *settings,
        )
    held = int(round(fraction * count))
    if held < 1 or held >= count:
        amount = f"1 {items.removesuffix('s')} is" if count == 1 else f"{count} {items} are"
        raise SettingError(
            f"{amount} too few to hold out {fraction:.0%} for validation; "
            f"give more {more} or a separate valid file",
            *settings,
        )
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held:]), np.sort(order[:held])
