"""How long a run may train: a step limit, a time limit, or both.

Both count the whole run, across resumes: a run resumed at step 600 with
``max_steps=1000`` takes 400 more steps, and the seconds a run trained before it was
stopped count towards ``max_time``. The clock is a parameter so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Budget:
    """``max_steps`` and ``max_time`` (seconds), None meaning no limit of that kind."""

    def __init__(
        self,
        max_steps: int | None = None,
        max_time: float | None = None,
        elapsed_before: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_steps = max_steps
        self.max_time = max_time
        self.elapsed_before = float(elapsed_before)
        self.clock = clock
        self.started = clock()

    @property
    def elapsed(self) -> float:
        """Seconds of the whole run: before this process, and since this budget was made."""
        return self.elapsed_before + (self.clock() - self.started)

    def exhausted(self, step: int, reserve: float = 0.0) -> str | None:
        """Why a run at STEP (steps taken so far) must stop, or None while it may go on.

        RESERVE seconds are kept back from ``max_time`` for work still to come after the
        last step (the final validation), so the whole run ends within its time.
        """
        if self.max_steps is not None and step >= self.max_steps:
            return f"reached max_steps {self.max_steps}"
        if self.max_time is not None and self.elapsed + reserve >= self.max_time:
            return f"reached max_time {self.max_time:g} s"
        return None

    def eta(self, step: int, seconds_per_step: float) -> float | None:
        """Seconds left at SECONDS_PER_STEP: the nearer of the two limits, None if unbounded."""
        left = []
        if self.max_steps is not None:
            left.append(max(self.max_steps - step, 0) * seconds_per_step)
        if self.max_time is not None:
            left.append(max(self.max_time - self.elapsed, 0.0))
        return min(left) if left else None
