"""The typed binding of the C time loops (``_rnnkit.c``): argument structs, builds, threads.

The C entry points take one struct each; ``Sequence``, ``Stack`` and ``AdamStep`` mirror
them field for field, and at load every field's offset is checked against the library's
own description of its structs (``rnnkit_layout``): a build from other sources (a stale
``.so`` after a checkout) is refused with a warning instead of being misread, and no
version number has to be kept in step by hand.

The library holds the loops built for several instruction sets (``KERNELS``: AVX-512 and
AVX2 + FMA on x86-64, ``generic`` everywhere: SSE2 or ARM NEON) and runs the best one the
CPU supports. ``RNNKIT_KERNEL=avx512|avx2|generic|numpy`` forces one at import (``numpy``:
no C at all; so does the older ``RNNKIT_ACCELERATOR=0``), ``use_kernel`` at run time.
``RNNKIT_NUM_THREADS`` or ``set_threads`` caps the threads the loops use.
"""

from __future__ import annotations

import ctypes
import os
import warnings

KERNELS = ("generic", "avx2", "avx512")  # index = the C library's kernel number
NUMPY = "numpy"

# Pointer fields are void pointers set from ``array.ctypes.data`` (an int): building a typed
# ctypes pointer per array costs microseconds, which a batch-1 step cannot spare. The C
# side's types are in the comments (and in _rnnkit.h).
_int32 = ctypes.c_int32
_float_p = _int64_p = ctypes.c_void_p  # float *, int64_t *


class Sequence(ctypes.Structure):
    """``struct rnnkit_sequence``: one direction of one layer over a sequence (_rnnkit.h)."""

    _fields_ = [
        ("cell", _int32), ("steps", _int32), ("batch", _int32), ("hidden", _int32),
        ("reverse", _int32), ("vocab", _int32), ("threads", _int32), ("pad", _int32),
        ("batch_sizes", _int64_p), ("gates", _float_p), ("weight", _float_p),
        ("hidden_bias", _float_p), ("hidden_states", _float_p), ("cells", _float_p),
        ("aux", _float_p), ("grad_output", _float_p), ("dh", _float_p), ("dc", _float_p),
        ("grad_gates", _float_p), ("grad_hidden_gates", _float_p), ("ids", _int64_p),
        ("table", _float_p), ("grad_table", _float_p),
    ]  # fmt: skip


class Stack(ctypes.Structure):
    """``struct rnnkit_stack``: one batch-1 step of a one-direction stack (_rnnkit.h)."""

    _fields_ = [
        ("cell", _int32), ("active", _int32), ("layers", _int32), ("hidden", _int32),
        ("vocab", _int32), ("input_size", _int32), ("first_input", _float_p), ("x", _float_p),
        ("first_weights", _float_p), ("biases", _float_p),
        ("hidden_biases", _float_p), ("input_weights", _float_p), ("weights", _float_p),
        ("h", _float_p), ("c", _float_p), ("scratch", _float_p), ("head_weight", _float_p),
        ("head_bias", _float_p), ("logits", _float_p),
    ]  # fmt: skip


class AdamStep(ctypes.Structure):
    """``struct rnnkit_adam``: one Adam(W) step of one float32 parameter (_rnnkit.h)."""

    _fields_ = [
        ("count", ctypes.c_int64), ("param", _float_p), ("grad", _float_p),
        ("exp_avg", _float_p), ("exp_avg_sq", _float_p), ("shrink", ctypes.c_float),
        ("l2", ctypes.c_float), ("one_minus_beta1", ctypes.c_float), ("beta2", ctypes.c_float),
        ("one_minus_beta2", ctypes.c_float), ("eps", ctypes.c_float),
        ("step_size", ctypes.c_float), ("bias_correction2_sqrt", ctypes.c_float),
    ]  # fmt: skip


class Gemm(ctypes.Structure):
    """``struct rnnkit_gemm``: one matrix product through the BLAS on the loops' threads."""

    _fields_ = [
        ("trans_a", _int32), ("trans_b", _int32), ("by_columns", _int32), ("threads", _int32),
        ("m", ctypes.c_int64), ("n", ctypes.c_int64), ("k", ctypes.c_int64),
        ("lda", ctypes.c_int64), ("ldb", ctypes.c_int64), ("ldc", ctypes.c_int64),
        ("beta", ctypes.c_float), ("pad", ctypes.c_float),
        ("a", _float_p), ("b", _float_p), ("c", _float_p),
    ]  # fmt: skip


# The cells' numbers in the C code (enum rnnkit_cell).
CELLS = {"rnn_tanh": 0, "rnn_relu": 1, "lstm": 2, "gru": 3}


def layout_of(structure: type[ctypes.Structure]) -> str:
    """``"<size> <field> <offset> ..."`` of a mirror, as ``rnnkit_layout`` writes its struct."""
    fields = " ".join(
        f"{name} {getattr(structure, name).offset}"
        for name, _ in structure._fields_
        if name != "pad"
    )
    return f"{ctypes.sizeof(structure)} {fields}"


def _declare(library: ctypes.CDLL) -> None:
    int_, ptr = ctypes.c_int, ctypes.c_void_p
    signatures = {
        "rnnkit_forward": ([ctypes.POINTER(Sequence)], None),
        "rnnkit_backward": ([ctypes.POINTER(Sequence)], None),
        "rnnkit_chunks": ([int_, int_], int_),
        "rnnkit_stack_step": ([ptr, ctypes.POINTER(Stack)], None),
        "rnnkit_adam": ([ctypes.POINTER(AdamStep)], None),
        "rnnkit_gemm": ([ctypes.POINTER(Gemm)], int_),
        "rnnkit_use_blas": ([ptr, int_, ptr, ptr], None),
        "rnnkit_fma_peak": ([ctypes.c_int64], ctypes.c_double),
        "rnnkit_project_rows": ([int_] * 4 + [ptr] * 4, None),
        "rnnkit_stepper_pool_new": ([int_], ptr),
        "rnnkit_stepper_pool_free": ([ptr], None),
        "rnnkit_stepper_pool_step_alone": ([ptr, ctypes.c_int64], ctypes.c_int64),
        "rnnkit_kernel_built": ([int_], int_),
        "rnnkit_kernel_supported": ([int_], int_),
        "rnnkit_select_kernel": ([int_], int_),
        "rnnkit_selected_kernel": ([], int_),
        "rnnkit_best_kernel": ([], int_),
        "rnnkit_layout": ([], ctypes.c_char_p),
    }
    for name, (arguments, result) in signatures.items():
        function = getattr(library, name)
        function.argtypes = arguments
        function.restype = result


def _load() -> ctypes.CDLL | None:
    """The compiled loops, or None where they were not built or are a stale build (then
    with a warning: reinstall rnnkit to rebuild them)."""
    try:
        from rnnkit.nn import _rnnkit  # noqa: PLC0415  (selects the best build on import)
    except ImportError:  # not built here
        return None
    try:
        library = ctypes.CDLL(_rnnkit.__file__)
        _declare(library)
        described = library.rnnkit_layout().decode()
    except (OSError, AttributeError):
        described = None
    expected = "; ".join(
        f"{name} {layout_of(mirror)}"
        for name, mirror in (
            ("rnnkit_sequence", Sequence), ("rnnkit_stack", Stack), ("rnnkit_adam", AdamStep),
            ("rnnkit_gemm", Gemm),
        )
    )  # fmt: skip
    if described != expected:
        warnings.warn(
            "rnnkit: the compiled time loops do not match this version of rnnkit; running "
            "them in NumPy (reinstall rnnkit to rebuild them)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return library


LIBRARY = _load()


def built() -> list[str]:
    """The instruction sets the library was built for (empty without the library)."""
    if LIBRARY is None:
        return []
    return [name for number, name in enumerate(KERNELS) if LIBRARY.rnnkit_kernel_built(number)]


def supported() -> list[str]:
    """The builds this CPU runs (those of ``built()`` whose instructions it has)."""
    return [name for name in built() if LIBRARY.rnnkit_kernel_supported(KERNELS.index(name))]


_kernel = NUMPY


def kernel() -> str:
    """The loops in use: one of ``KERNELS``, or ``"numpy"`` (no C)."""
    return _kernel


def use_kernel(name: str) -> str:
    """Run the loops built for ``name`` (``KERNELS``, or ``"numpy"`` for none); returns the
    previous choice. Raises ValueError for a build this library or CPU lacks."""
    global _kernel
    previous = _kernel
    if name == NUMPY:
        _kernel = NUMPY
        return previous
    if name not in KERNELS:
        raise ValueError(f"kernel: expected one of {(*KERNELS, NUMPY)}, got {name!r}")
    if name not in supported():
        raise ValueError(
            f"kernel: {name!r} cannot run here (built: {built()}, this CPU runs: {supported()})"
        )
    LIBRARY.rnnkit_select_kernel(KERNELS.index(name))
    _kernel = name
    return previous


def _initial_kernel() -> str:
    """What the environment asks for, else the best build the CPU runs."""
    if LIBRARY is None or os.environ.get("RNNKIT_ACCELERATOR", "1") == "0":
        return NUMPY
    wanted = os.environ.get("RNNKIT_KERNEL", "").strip().lower()
    best = KERNELS[LIBRARY.rnnkit_best_kernel()]
    if not wanted:
        return best
    if wanted != NUMPY and wanted not in supported():
        warnings.warn(
            f"RNNKIT_KERNEL={wanted}: not one this machine runs ({[*supported(), NUMPY]}); "
            f"using {best}",
            RuntimeWarning,
            stacklevel=2,
        )
        return best
    return wanted


use_kernel(_initial_kernel())


def _default_threads() -> int:
    """The cores this process may use, or fewer if ``RNNKIT_NUM_THREADS`` says so."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    wanted = os.environ.get("RNNKIT_NUM_THREADS", "")
    return max(1, min(cores, int(wanted))) if wanted.isdigit() else cores


_threads = _default_threads()


def threads() -> int:
    """How many threads a C loop may use."""
    return _threads


def set_threads(count: int) -> int:
    """Use at most ``count`` threads in the C loops; returns the previous count."""
    global _threads
    previous, _threads = _threads, max(1, int(count))
    return previous


def pointer(array: object) -> int | None:
    """The address of an array's data (None for None), for a pointer field. The caller
    keeps the array alive while the C code may use it."""
    return None if array is None else array.ctypes.data
