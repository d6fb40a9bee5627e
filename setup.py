"""Builds the optional C accelerator of the float32 LSTM (rnnkit/nn/_lstm_fused.c).

Everything else is in pyproject.toml. The extension is optional: where it does not compile
(no C compiler, not x86-64), rnnkit installs without it and runs its NumPy kernels.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rnnkit.nn._lstm_fused",
            sources=["rnnkit/nn/_lstm_fused.c"],
            extra_compile_args=["-O3", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
