"""The kernels' buffer pool, and that reusing its arrays never leaks one call into another."""

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM
from rnnkit.nn.fused_loops import backward_slabs, forward_slabs
from rnnkit.nn.sequence_ops import ALIGNMENT, BufferPool, aligned_empty


def test_take_reuses_a_given_array_of_the_same_shape_and_dtype():
    pool = BufferPool()
    first = pool.take((3, 4), np.float32)
    pool.give(first)
    assert pool.take((3, 4), np.float32) is first
    assert pool.take((3, 4), np.float32) is not first  # only one was given back


def test_take_never_mixes_shapes_or_dtypes():
    pool = BufferPool()
    array = pool.take((3, 4), np.float32)
    pool.give(array)
    assert pool.take((4, 3), np.float32) is not array
    assert pool.take((3, 4), np.float64) is not array


def test_zeros_are_zero_even_for_a_reused_array():
    pool = BufferPool()
    array = pool.take((5,), np.float64)
    array.fill(7.0)
    pool.give(array)
    reused = pool.take((5,), np.float64, zeros=True)
    assert reused is array
    assert np.all(reused == 0.0)


def test_the_byte_limit_drops_the_least_recently_used_shape():
    pool = BufferPool(max_bytes=2 * 8 * 10)  # room for two of these float64 arrays
    old, recent, newest = np.empty(10), np.empty((2, 5)), np.empty((5, 2))
    pool.give(old)
    pool.give(recent)
    pool.give(newest)
    assert pool.take((10,), np.float64) is not old
    assert pool.take((2, 5), np.float64) is recent
    assert pool.take((5, 2), np.float64) is newest


@pytest.mark.parametrize("shape", [(1,), (3, 5), (65, 7, 3)])
@pytest.mark.parametrize("zeros", [False, True])
def test_new_arrays_start_on_a_cache_line(shape, zeros):
    for array in (
        aligned_empty(shape, np.float32, zeros),
        BufferPool().take(shape, np.float32, zeros),
    ):
        assert array.ctypes.data % ALIGNMENT == 0
        assert array.shape == shape and array.dtype == np.float32 and array.flags.c_contiguous
        if zeros:
            assert np.all(array == 0.0)
    array = aligned_empty(shape, np.float64)
    array[...] = 3.0  # the whole view is writable memory of its own
    assert array.ctypes.data % ALIGNMENT == 0 and np.all(array == 3.0)


def test_the_c_loops_weight_slabs_start_on_a_cache_line_and_keep_their_values():
    weight = np.arange(4 * 32 * 48, dtype=np.float32).reshape(4 * 32, 48)
    slabs = forward_slabs(weight, 4)
    assert slabs.ctypes.data % ALIGNMENT == 0
    # slab b, gate q, row k, column u = weight[q H + 16 b + u, k]
    assert slabs[1, 2, 5, 3] == weight[2 * 32 + 16 + 3, 5]
    square = np.arange(3 * 32 * 32, dtype=np.float32).reshape(3 * 32, 32)
    back = backward_slabs(square)
    assert back.ctypes.data % ALIGNMENT == 0
    np.testing.assert_array_equal(back[1], square[:, 16:32])


def test_clear_forgets_everything():
    pool = BufferPool()
    array = pool.take((2,), np.float32)
    pool.give(array)
    pool.clear()
    assert pool.take((2,), np.float32) is not array


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
def test_repeated_steps_with_reused_buffers_repeat_exactly(layer_class):
    """Two layers of equal shapes alternate, in training and evaluation, with and without
    lengths: every result equals the first run's, so no pooled array carried anything over."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 4))
    grad_output = rng.standard_normal((6, 3, 5))
    layers = [layer_class(4, 5, dtype=np.float64, rng=seed) for seed in (1, 2)]

    def run(layer, lengths):
        layer.train()
        layer.zero_grad()
        output, _ = layer.forward(x, None, lengths)
        grad_x, _ = layer.backward(grad_output)
        layer.eval()
        evaluated, _ = layer.forward(x, None, lengths)
        return [output, grad_x, evaluated, *layer.grads.values()]

    for lengths in (None, [6, 2, 4]):
        first = [[value.copy() for value in run(layer, lengths)] for layer in layers]
        for _ in range(2):
            for layer, expected in zip(layers, first, strict=True):
                for value, reference in zip(run(layer, lengths), expected, strict=True):
                    np.testing.assert_array_equal(value, reference)
