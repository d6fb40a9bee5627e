"""A process-wide count of parameter changes, for caches of arranged weights.

Batch-1 steps through a layer's ``forward`` run on weights rearranged for the C loops
(``single_step``); rearranging them per call would cost more than the step. The
rearrangement is kept until the count moves: optimizers (``Optimizer.step``) and
``Layer.load_state_dict`` call ``parameters_changed``. Code that writes into parameter
arrays by other means calls it too.
"""

from __future__ import annotations

_generation = 0


def parameters_changed() -> None:
    """Say that some parameter arrays have new values: every cache built on them is stale."""
    global _generation
    _generation += 1


def generation() -> int:
    """How many times ``parameters_changed`` was called in this process."""
    return _generation
