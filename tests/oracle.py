"""Import PyTorch for oracle tests, or skip the module with a clear reason."""

import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the test oracle; install it with: pip install torch==2.13.0"
)
# The oracle's cases are tiny: torch's worker threads only fight the test process for cores.
torch.set_num_threads(1)
