"""Length bucketing: every example once per epoch, seeded, little padding; padding itself."""

from __future__ import annotations

import numpy as np

from rnnkit.data.length_buckets import (
    bucket_batches,
    pad_batch,
    padding_fraction,
    sorted_batches,
)

LENGTHS = np.random.default_rng(0).integers(1, 60, size=3000)


def test_every_example_appears_once_in_batches_of_the_given_size() -> None:
    batches = bucket_batches(LENGTHS, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(LENGTHS)))
    assert sum(len(b) < 32 for b in batches) <= -(-len(LENGTHS) // (32 * 50))  # one per chunk


def test_batches_are_seeded_and_differ_between_seeds() -> None:
    first = bucket_batches(LENGTHS, 32, np.random.default_rng(1))
    again = bucket_batches(LENGTHS, 32, np.random.default_rng(1))
    other = bucket_batches(LENGTHS, 32, np.random.default_rng(2))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=False))


def test_bucketing_wastes_far_less_than_random_batches() -> None:
    rng = np.random.default_rng(1)
    order = rng.permutation(len(LENGTHS))
    random_batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    bucketed = bucket_batches(LENGTHS, 32, rng)
    assert padding_fraction(LENGTHS, random_batches) > 0.4
    assert padding_fraction(LENGTHS, bucketed) < 0.05


def test_sorted_batches_cover_everything_in_length_order() -> None:
    batches = sorted_batches(LENGTHS, 100)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(LENGTHS)))
    assert np.all(np.diff(LENGTHS[flat]) >= 0)
    assert padding_fraction(LENGTHS, batches) < 0.05


def test_pad_batch() -> None:
    ids, lengths = pad_batch([np.array([3, 1]), np.array([4]), np.array([5, 6, 7])], pad_id=9)
    assert ids.tolist() == [[3, 1, 9], [4, 9, 9], [5, 6, 7]]
    assert lengths.tolist() == [2, 1, 3]


def test_sorted_batches_hold_at_most_max_tokens_padded_steps() -> None:
    lengths = np.array([1000] * 40 + [10] * 300 + [5000])
    batches = sorted_batches(lengths, 256, max_tokens=32768)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 32768
    # Short examples still fill whole batches; an example over the cap is alone.
    assert [len(b) for b in batches] == [256, 44, 32, 8, 1]
