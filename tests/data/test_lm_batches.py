"""Truncated-BPTT batching: contiguous streams, windows that continue them, the val split."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data.lm_batches import StreamBatcher, split_train_val
from rnnkit.errors import UserError


def test_streams_are_contiguous_and_the_tail_is_dropped() -> None:
    batcher = StreamBatcher(np.arange(13), batch_size=2, seq_len=2)
    assert batcher.streams.tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_windows_continue_each_stream_and_targets_are_shifted() -> None:
    ids = np.arange(100, 141)  # 41 tokens, 3 streams of 13, 2 dropped
    batcher = StreamBatcher(ids, batch_size=3, seq_len=5)
    windows = list(batcher)
    assert len(windows) == len(batcher) == batcher.num_windows == 3  # 12 input steps
    for inputs, targets in windows:
        assert inputs.dtype == targets.dtype == np.int64
        assert inputs.shape == targets.shape
        assert inputs.shape[0] == 3
        np.testing.assert_array_equal(targets[:, :-1], inputs[:, 1:])
    for (inputs, targets), (next_inputs, _) in zip(windows, windows[1:], strict=False):
        np.testing.assert_array_equal(next_inputs[:, 0], inputs[:, -1] + 1)
        np.testing.assert_array_equal(next_inputs[:, 0], targets[:, -1])
    # Together the windows read every stream from start to end.
    np.testing.assert_array_equal(np.hstack([w[0] for w in windows]), batcher.streams[:, :-1])
    np.testing.assert_array_equal(np.hstack([w[1] for w in windows]), batcher.streams[:, 1:])
    assert batcher.num_targets == 3 * 12


def test_last_window_is_shorter_and_kept() -> None:
    batcher = StreamBatcher(np.arange(10), batch_size=1, seq_len=4)  # 9 input steps: 4, 4, 1
    assert [w[0].shape[1] for w in batcher] == [4, 4, 1]
    inputs, targets = batcher.window(2)
    assert inputs.tolist() == [[8]] and targets.tolist() == [[9]]


def test_window_out_of_range() -> None:
    batcher = StreamBatcher(np.arange(10), batch_size=1, seq_len=4)
    with pytest.raises(IndexError):
        batcher.window(3)
    with pytest.raises(IndexError):
        batcher.window(-1)


def test_windows_are_copies() -> None:
    batcher = StreamBatcher(np.arange(10), batch_size=1, seq_len=4)
    inputs, _ = batcher.window(0)
    inputs[:] = -1
    assert batcher.window(0)[0].tolist() == [[0, 1, 2, 3]]


def test_the_smallest_text_gives_one_step_per_stream() -> None:
    batcher = StreamBatcher(np.arange(6), batch_size=3, seq_len=35)
    assert batcher.num_windows == 1
    inputs, targets = batcher.window(0)
    assert inputs.tolist() == [[0], [2], [4]] and targets.tolist() == [[1], [3], [5]]


def test_too_short_text_says_how_many_tokens_are_needed() -> None:
    with pytest.raises(UserError) as info:
        StreamBatcher(np.arange(5), batch_size=3, seq_len=35)
    message = str(info.value)
    assert "\n" not in message
    assert "5 tokens" in message and "at least 6" in message and "smaller batch_size" in message


@pytest.mark.parametrize(("batch_size", "seq_len"), [(0, 5), (2, 0)])
def test_non_positive_sizes(batch_size: int, seq_len: int) -> None:
    with pytest.raises(UserError, match="at least 1"):
        StreamBatcher(np.arange(50), batch_size=batch_size, seq_len=seq_len)


def test_split_takes_the_last_fraction_for_validation() -> None:
    train, val = split_train_val(np.arange(100), 0.1)
    assert train.tolist() == list(range(90)) and val.tolist() == list(range(90, 100))


def test_split_matches_the_usual_tiny_shakespeare_cut() -> None:
    train, val = split_train_val(np.arange(1_115_394), 0.1)
    assert len(train) == int(1_115_394 * 0.9) and len(train) + len(val) == 1_115_394


def test_split_with_zero_fraction_has_empty_validation() -> None:
    train, val = split_train_val(np.arange(7), 0.0)
    assert len(train) == 7 and len(val) == 0


@pytest.mark.parametrize(
    ("n", "fraction", "part"),
    [(10, 0.05, "validation"), (10, 0.95, "training"), (1, 0.0, "training")],
)
def test_split_refuses_parts_too_small(n: int, fraction: float, part: str) -> None:
    with pytest.raises(UserError, match=f"the {part} part would get"):
        split_train_val(np.arange(n), fraction)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_split_refuses_fractions_outside_0_1(fraction: float) -> None:
    with pytest.raises(UserError, match=r"val_fraction must be in \[0, 1\)"):
        split_train_val(np.arange(10), fraction)
