"""Import PyTorch for oracle tests, or skip the module with a clear reason."""

import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the test oracle; install it with: pip install torch==2.13.0"
)
