"""Budget: step and time limits over a whole run, with a fake clock."""

from __future__ import annotations

import pytest

from rnnkit.train.budget import Budget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_step_limit_counts_steps_before_a_resume() -> None:
    budget = Budget(max_steps=10, clock=FakeClock())
    assert budget.exhausted(9) is None
    assert budget.exhausted(10) == "reached max_steps 10"


def test_time_limit_counts_time_before_a_resume() -> None:
    clock = FakeClock()
    budget = Budget(max_time=60, elapsed_before=50.0, clock=clock)
    assert budget.elapsed == 50.0
    assert budget.exhausted(0) is None
    clock.now += 10
    assert budget.elapsed == 60.0
    assert budget.exhausted(0) == "reached max_time 60 s"


def test_no_limits_never_stop() -> None:
    clock = FakeClock()
    budget = Budget(clock=clock)
    clock.now += 1e9
    assert budget.exhausted(10**9) is None
    assert budget.eta(5, 1.0) is None


def test_eta_is_the_nearer_limit() -> None:
    clock = FakeClock()
    budget = Budget(max_steps=100, max_time=30, clock=clock)
    assert budget.eta(step=90, seconds_per_step=2.0) == pytest.approx(20.0)
    assert budget.eta(step=0, seconds_per_step=2.0) == pytest.approx(30.0)
    clock.now += 40
    assert budget.eta(step=0, seconds_per_step=2.0) == 0.0
