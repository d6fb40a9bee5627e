"""PyTorch is the test oracle, and it is optional.

Only the tests that compare with torch need it. They ask for the ``torch`` fixture
(``tests/conftest.py``), which skips that test alone, with ``REASON``, when torch is not
installed; every other test in the module still runs. Helpers that build torch objects
take the module as an argument rather than importing it, so that the modules holding them
import without torch too.
"""

from __future__ import annotations

from types import ModuleType

import pytest

REASON = "PyTorch is the test oracle; install it with: pip install torch==2.13.0"


def import_torch() -> ModuleType:
    """Return torch, set to one thread, or skip the test (or module) calling this."""
    torch = pytest.importorskip("torch", reason=REASON)
    # The oracle's cases are tiny: torch's worker threads only fight the test process for cores.
    torch.set_num_threads(1)
    return torch
