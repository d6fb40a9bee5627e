"""Builds the optional C time loops of the float32 recurrent layers (rnnkit/nn/_rnnkit.c).

Everything else is in pyproject.toml. The loops' arithmetic (rnnkit/nn/_loops.h) is
compiled once per instruction set: AVX-512 and AVX2 + FMA on x86-64, and the compiler's
baseline (SSE2, or NEON on ARM64) everywhere; the library picks the best one the CPU runs
when it is loaded. The extension is optional: where it does not compile (no C compiler),
rnnkit installs without it and runs its NumPy kernels (where a C compiler exists, the
tests then fail, so that CI notices).
"""

from setuptools import Extension, setup

LOOPS = ["_loops_avx512.c", "_loops_avx2.c", "_loops_generic.c"]

setup(
    ext_modules=[
        Extension(
            "rnnkit.nn._rnnkit",
            sources=["rnnkit/nn/_rnnkit.c", *(f"rnnkit/nn/{name}" for name in LOOPS)],
            depends=["rnnkit/nn/_rnnkit.h", "rnnkit/nn/_loops.h"],
            # -ffp-contract=fast: a * b + c becomes one FMA where the target has one (the
            # default of GNU C, but not of -std=c11 and the like).
            extra_compile_args=["-O3", "-pthread", "-ffp-contract=fast"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
