"""The C loops as built where the CPU is neither x86-64 nor ARM64: the generic loops alone,
in plain C (GCC's vector extensions, no SSE2 or NEON intrinsics), held to the float64
NumPy kernels by test_c_loops' own tests.

The installed build compiles the generic loops with SSE2 (x86-64) or NEON (ARM64), so the
plain-C branches of ``_loops.h`` and an ``_rnnkit.c`` without the x86 builds would
otherwise never be compiled or run by the tests. Here they are built (``-DRNNKIT_X86=0``,
the SIMD macros undefined) and loaded in place of the installed library in a child
process, which runs the arithmetic tests of the C loops on them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rnnkit.nn import c_binding

SOURCES = Path(c_binding.__file__).parent
REPOSITORY = Path(__file__).resolve().parents[2]
COMPILER = shutil.which("gcc") or shutil.which("cc")
INCLUDE = Path(sysconfig.get_paths()["include"])

# What makes _loops.h take its intrinsics; __ARM_NEON alone suffices on ARM64 (undefining
# __x86_64__ or __aarch64__ would change what the system headers declare).
SIMD_MACROS = [
    "__SSE__", "__SSE2__", "__SSE_MATH__", "__SSE2_MATH__", "__AVX__", "__AVX2__", "__FMA__",
    "__AVX512F__", "__ARM_NEON",
]  # fmt: skip

# The C loops' tests of arithmetic; the others are about the installed build (which
# instruction sets it holds, the environment switches read by fresh processes) or about
# another program keeping a core busy.
TESTS = [
    "tests/nn/test_c_loops.py",
    "tests/nn/test_single_step.py",
    "tests/optim/test_fused_adam.py",
]
DESELECTED = "not every_instruction_set and not environment and not busy"

# The child: the portable library in place of the installed one, then pytest.
CHILD = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("rnnkit.nn._rnnkit", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.modules["rnnkit.nn._rnnkit"] = module
from rnnkit.nn import c_binding
assert c_binding.LIBRARY._name == sys.argv[1], c_binding.LIBRARY
assert c_binding.built() == ["generic"] == c_binding.supported(), c_binding.built()
assert c_binding.kernel() == "generic", c_binding.kernel()
import pytest
sys.exit(pytest.main([*{TESTS!r}, "-k", {DESELECTED!r}, "-p", "no:cacheprovider"]))
"""


def build_portable_library(folder: Path) -> Path:
    """Compile ``_rnnkit.c`` without the x86 builds and ``_loops_generic.c`` in plain C."""
    common = [COMPILER, "-O1", "-fPIC", "-pthread", "-ffp-contract=fast", "-DRNNKIT_X86=0"]
    objects = [folder / "_rnnkit.o", folder / "_loops_generic.o"]
    undefined = [f"-U{macro}" for macro in SIMD_MACROS]
    commands = [
        [*common, f"-I{INCLUDE}", "-c", str(SOURCES / "_rnnkit.c"), "-o", str(objects[0])],
        [*common, *undefined, "-c", str(SOURCES / "_loops_generic.c"), "-o", str(objects[1])],
        [COMPILER, "-shared", "-pthread", *map(str, objects), "-o", str(folder / "_rnnkit.so")],
    ]
    for command in commands:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)
    return folder / "_rnnkit.so"


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or COMPILER is None or not (INCLUDE / "Python.h").exists(),
    reason="builds a Linux shared library: needs a C compiler and Python's headers",
)
def test_the_plain_c_loops_match_float64_numpy(tmp_path: Path) -> None:
    library = build_portable_library(tmp_path)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("RNNKIT_")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(library)], cwd=REPOSITORY, env=environment,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-4000:]
    passed = re.search(r"(\d+) passed", report)
    assert passed and int(passed.group(1)) >= 100, report[-2000:]
