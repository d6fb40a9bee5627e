"""products.matmul: float32 products on the C loops' threads through OpenBLAS's sgemm."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from rnnkit.nn import c_binding, products

needs_c = pytest.mark.skipif(
    c_binding.LIBRARY is None or not products.blas_connected(),
    reason="no C loops or no OpenBLAS here",
)


@pytest.fixture
def two_threads():
    previous = c_binding.set_threads(2)
    kernel = c_binding.kernel()
    if kernel == c_binding.NUMPY:
        c_binding.use_kernel(c_binding.supported()[-1])
    yield
    c_binding.set_threads(previous)
    c_binding.use_kernel(kernel)


def layouts(array: np.ndarray) -> list[np.ndarray]:
    """The array as given, as a transposed copy's transpose, and as a slice of a wider one."""
    wide = np.zeros((array.shape[0], array.shape[1] + 5), dtype=array.dtype)
    wide[:, : array.shape[1]] = array
    return [array, np.ascontiguousarray(array.T).T, wide[:, : array.shape[1]]]


@needs_c
@pytest.mark.parametrize(
    "shape", [(2048, 128, 512), (65, 512, 256), (300, 2048, 64), (1, 16, 5), (7, 3, 9)]
)
def test_products_match_float64(two_threads, shape) -> None:
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    tolerance = 2e-5 * np.sqrt(k) * 4
    for left in layouts(a):
        for right in layouts(b):
            result = products.matmul(left, right)
            assert result.dtype == np.float32
            np.testing.assert_allclose(result, exact, atol=tolerance, rtol=0)
            into = np.ones((m, n + 2), dtype=np.float32)[:, :n]
            products.matmul(left, right, out=into, accumulate=True)
            np.testing.assert_allclose(into, exact + 1, atol=tolerance, rtol=0)


def openblas_threads() -> list[int]:
    return [
        info["num_threads"]
        for info in threadpoolctl.threadpool_info()
        if info["internal_api"] == "openblas"
    ]


@needs_c
def test_openblas_threads_are_restored(two_threads) -> None:
    # the product holds OpenBLAS to one thread while it runs, and gives back the count
    rng = np.random.default_rng(1)
    a = rng.standard_normal((512, 256), dtype=np.float32)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = openblas_threads()
        products.matmul(a, a.T)
        assert openblas_threads() == before


def test_float64_and_one_thread_are_numpy() -> None:
    rng = np.random.default_rng(2)
    a = rng.standard_normal((40, 30))
    b = rng.standard_normal((30, 20))
    assert np.array_equal(products.matmul(a, b), a @ b)
    previous = c_binding.set_threads(1)
    try:
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        assert np.array_equal(products.matmul(a32, b32), a32 @ b32)
    finally:
        c_binding.set_threads(previous)
