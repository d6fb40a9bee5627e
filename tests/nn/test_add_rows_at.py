"""add_rows_at, the scatter-add behind Embedding.backward: equal to np.add.at on both of its
paths (one-hot product with many rows per target row, sort and reduceat otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn.embedding import ONE_HOT_RATIO, add_rows_at


@pytest.mark.parametrize(
    ("targets", "rows"), [(5, 5 * ONE_HOT_RATIO + 3), (40, 30), (40, 1), (3, 0)]
)
def test_matches_np_add_at(targets: int, rows: int) -> None:
    rng = np.random.default_rng(targets + rows)
    indices = rng.integers(0, targets, rows)
    values = rng.standard_normal((rows, 6))
    start = rng.standard_normal((targets, 6))
    expected = start.copy()
    np.add.at(expected, indices, values)
    result = start.copy()
    add_rows_at(result, indices, values)
    np.testing.assert_allclose(result, expected, rtol=1e-13, atol=1e-14)


def test_repeated_index_sums_every_row() -> None:
    target = np.zeros((4, 2))
    add_rows_at(target, np.array([2, 0, 2, 2]), np.array([[1.0, 2], [5, 5], [10, 20], [100, 200]]))
    np.testing.assert_array_equal(target, [[5, 5], [0, 0], [111, 222], [0, 0]])
