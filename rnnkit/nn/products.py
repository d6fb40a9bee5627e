"""The float32 layers' matrix products while the C loops run on several threads.

NumPy's OpenBLAS runs each product on its own pool of threads, and its idle workers then
spin for about 0.1 s (2^28 cycles, without yielding on x86-64) on the other cores. The C
time loops, started within that window, found their second core taken: on a 2-core
machine rnnkit trained config A of ``benchmarks/speed.py`` slower on 2 threads than on 1.
So when the loops use more than one thread, ``matmul`` runs a float32 product as
OpenBLAS's single-threaded sgemm on each of the loops' threads (``rnnkit_gemm`` in
``_rnnkit.c``: each takes shares of the result's rows or columns), holding OpenBLAS to
one thread meanwhile, so that its pool is never woken by rnnkit's own products. Anything
else (another BLAS, float64, one thread, no C loops, a layout sgemm cannot take) is
NumPy's ``matmul``, as before.

OpenBLAS is found once, on the first product, through threadpoolctl (the library NumPy
loaded, with its symbol affixes, e.g. ``scipy_cblas_sgemm64_`` in NumPy's wheels).
"""

from __future__ import annotations

import ctypes
import itertools
import math
import threading

import numpy as np

from rnnkit.nn import c_binding

_FLOAT = np.dtype(np.float32)
_lock = threading.Lock()
_blas_state: list[str | None] = []  # [the connected OpenBLAS's file, or None], once looked for


def _numpy_openblas() -> dict | None:
    """threadpoolctl's entry for the OpenBLAS NumPy loaded (pthreads build), if any."""
    try:
        import threadpoolctl  # noqa: PLC0415  (only needed once)
    except ImportError:
        return None
    from rnnkit.threads import signals_held  # noqa: PLC0415  (below nn; see threads.py)

    with signals_held():  # threadpoolctl's ctypes callback would drop a Ctrl-C
        info = threadpoolctl.threadpool_info()
    entries = [
        entry
        for entry in info
        if entry.get("internal_api") == "openblas" and entry.get("threading_layer") == "pthreads"
    ]
    # NumPy's own copy first (its wheels keep it in numpy.libs or numpy/.libs)
    entries.sort(key=lambda entry: "numpy" not in entry.get("filepath", ""))
    return entries[0] if entries else None


def _connect_blas() -> str | None:
    """Hand NumPy's OpenBLAS sgemm and thread-count functions to the C library; the
    library's file, or None."""
    entry = _numpy_openblas()
    if entry is None or c_binding.LIBRARY is None:
        return None
    try:
        library = ctypes.CDLL(entry["filepath"])
    except OSError:
        return None
    for prefix, suffix in itertools.product(("scipy_", ""), ("64_", "_64", "")):
        sgemm = getattr(library, f"{prefix}cblas_sgemm{suffix}", None)
        set_threads = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
        get_threads = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
        if sgemm is None or set_threads is None or get_threads is None:
            continue
        address = ctypes.cast(sgemm, ctypes.c_void_p).value
        c_binding.LIBRARY.rnnkit_use_blas(
            address,
            int("64" in suffix),
            ctypes.cast(set_threads, ctypes.c_void_p).value,
            ctypes.cast(get_threads, ctypes.c_void_p).value,
        )
        return entry["filepath"]
    return None


def blas_connected() -> bool:
    """Whether products can go through NumPy's OpenBLAS on the loops' threads."""
    if not _blas_state:
        with _lock:
            if not _blas_state:
                _blas_state.append(_connect_blas())
    return _blas_state[0] is not None


def own_blas_file() -> str | None:
    """The file of the OpenBLAS ``matmul`` runs on the C loops' threads, when it can
    (C loops built and NumPy's OpenBLAS found); else None."""
    if c_binding.kernel() == c_binding.NUMPY or not blas_connected():
        return None
    return _blas_state[0]


def flat_matmul(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``x @ weight`` for ``x`` ``(..., K)`` as one 2-D ``matmul`` over all leading axes:
    NumPy runs a stacked (3-D) product as one small GEMM per leading index."""
    rows = math.prod(x.shape[:-1])
    return matmul(x.reshape(rows, x.shape[-1]), weight).reshape(*x.shape[:-1], weight.shape[1])


def _layout(array: np.ndarray) -> tuple[int, int] | None:
    """``(transposed, leading dimension)`` of a 2-D float32 array sgemm can read in place,
    else None."""
    rows, cols = array.shape
    step_row, step_col = array.strides
    size = _FLOAT.itemsize
    if step_col == size and step_row % size == 0 and step_row >= size * cols:
        return 0, step_row // size
    if step_row == size and step_col % size == 0 and step_col >= size * rows:
        return 1, step_col // size
    if rows == 1 and step_col == size:  # one row: any row step
        return 0, cols
    if cols == 1 and step_row == size:  # one column
        return 1, rows
    return None


def _in_c(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> bool:
    return (
        c_binding.threads() > 1
        and c_binding.kernel() != c_binding.NUMPY
        and a.dtype == _FLOAT
        and b.dtype == _FLOAT
        and a.ndim == 2
        and b.ndim == 2
        and a.size > 0
        and b.size > 0
        and (out is None or (out.dtype == _FLOAT and out.ndim == 2 and out.strides[1] == 4))
        and blas_connected()
    )


def matmul(
    a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, accumulate: bool = False
) -> np.ndarray:
    """``a @ b`` for 2-D arrays, into ``out`` if given (added to it if ``accumulate``);
    on the C loops' threads where it can (see the module docstring)."""
    if _in_c(a, b, out):
        m, k = a.shape
        n = b.shape[1]
        if out is None:
            out = np.empty((m, n), dtype=np.float32)
            accumulate = False
        layout_a, layout_b, layout_c = _layout(a), _layout(b), _layout(out)
        if (
            b.shape[0] == k
            and out.shape == (m, n)
            and layout_a is not None
            and layout_b is not None
            and layout_c is not None
            and layout_c[0] == 0
        ):
            arguments = c_binding.Gemm(
                trans_a=layout_a[0], trans_b=layout_b[0], by_columns=int(n > m),
                threads=c_binding.threads(), m=m, n=n, k=k, lda=layout_a[1],
                ldb=layout_b[1], ldc=layout_c[1], beta=1.0 if accumulate else 0.0,
                a=a.ctypes.data, b=b.ctypes.data, c=out.ctypes.data,
            )  # fmt: skip
            if c_binding.LIBRARY.rnnkit_gemm(arguments) == 0:
                return out
    if accumulate:
        out += a @ b
        return out
    return np.matmul(a, b, out=out)
