"""StepLR and ReduceLROnPlateau: learning-rate sequences against torch's, state dicts."""

from types import ModuleType

import numpy as np
import pytest

from rnnkit.optim import SGD, ReduceLROnPlateau, StepLR, decay_factor

# Improves, stalls (changes below the relative threshold 1e-4 do not count), improves
# again, then stalls for long enough to hit min_lr.
LOSSES = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 2.99999, 3.5, 3.5, 3.5, 2.0]
LOSSES += [2.0] * 14


def sgd(lr: float = 1.0) -> SGD:
    return SGD({"w": np.zeros(2)}, {"w": np.zeros(2)}, lr=lr)


def torch_sgd(torch: ModuleType, lr: float = 1.0):
    return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=lr)


def lr_sequence(scheduler, optimizer, metrics=None, steps: int = 0) -> list[float]:
    """The learning rate after each epoch; works for rnnkit and torch alike."""
    rates = []
    for metric in metrics if metrics is not None else [None] * steps:
        optimizer.step()  # zero gradients: nothing moves, but torch wants this order
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)
        is_ours = isinstance(optimizer, SGD)
        rates.append(optimizer.lr if is_ours else optimizer.param_groups[0]["lr"])
    return rates


@pytest.mark.parametrize(("step_size", "gamma"), [(3, 0.1), (1, 0.7), (4, 0.5)])
def test_step_lr_matches_torch(torch, step_size, gamma):
    ours, theirs = sgd(0.3), torch_sgd(torch, 0.3)
    reference = torch.optim.lr_scheduler.StepLR(theirs, step_size, gamma)
    expected = lr_sequence(reference, theirs, steps=13)
    got = lr_sequence(StepLR(ours, step_size, gamma), ours, steps=13)
    assert got == expected  # the same multiplications in the same order: bit for bit
    assert got[-1] < 0.3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"patience": 2},
        {"patience": 0, "factor": 0.5},
        {"patience": 1, "threshold": 0.1, "cooldown": 2},
        {"patience": 1, "factor": 0.5, "min_lr": 0.2},
        {"patience": 1, "mode": "max"},
        {},
    ],
    ids=["patience", "impatient", "threshold-cooldown", "min-lr", "max", "default"],
)
def test_reduce_on_plateau_matches_torch(torch, kwargs):
    ours, theirs = sgd(), torch_sgd(torch)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    expected = lr_sequence(reference, theirs, LOSSES)
    assert lr_sequence(ReduceLROnPlateau(ours, **kwargs), ours, LOSSES) == expected
    assert len(set(expected)) > 1  # the scripted losses do make it reduce


def test_reduce_on_plateau_reduces_after_patience_runs_out():
    optimizer = sgd()
    rates = lr_sequence(ReduceLROnPlateau(optimizer, patience=2), optimizer, [1.0, 1.0, 1.0, 1.0])
    assert rates == [1.0, 1.0, 1.0, pytest.approx(0.1)]


@pytest.mark.parametrize("kwargs", [{"patience": 1}, {"patience": 0, "cooldown": 2}, {}])
def test_judged_steps_follow_the_same_schedule_as_the_metrics(kwargs):
    """step_judged(improved) with step's own verdicts gives step's rates exactly."""
    by_metric, judged = sgd(), sgd()
    reference = ReduceLROnPlateau(by_metric, **kwargs)
    scheduler = ReduceLROnPlateau(judged, **kwargs)
    for loss in LOSSES:
        improved = reference._is_better(loss)
        reference.step(loss)
        scheduler.step_judged(improved)
        assert judged.lr == by_metric.lr
        assert scheduler.num_bad_epochs == reference.num_bad_epochs
    assert by_metric.lr < 1.0  # the scripted losses do make it reduce


def test_step_lr_state_round_trip():
    first_optimizer, second_optimizer = sgd(), sgd()
    first = StepLR(first_optimizer, step_size=3, gamma=0.5)
    lr_sequence(first, first_optimizer, steps=4)
    second = StepLR(second_optimizer, step_size=10)
    second.load_state_dict(first.state_dict())
    second_optimizer.lr = first_optimizer.lr  # the rate travels with the optimizer's state
    assert lr_sequence(second, second_optimizer, steps=5) == lr_sequence(
        first, first_optimizer, steps=5
    )


def test_plateau_state_round_trip_through_numbers_and_arrays():
    first_optimizer, second_optimizer = sgd(), sgd()
    first = ReduceLROnPlateau(first_optimizer, patience=1, cooldown=1)
    lr_sequence(first, first_optimizer, LOSSES[:9])
    state = first.state_dict()
    assert all(isinstance(value, int | float) for value in state.values())
    second = ReduceLROnPlateau(second_optimizer)
    # as read back from a safetensors file: 0-d arrays
    second.load_state_dict({key: np.array(value) for key, value in state.items()})
    assert second.state_dict() == state
    assert isinstance(second.num_bad_epochs, int)
    second_optimizer.lr = first_optimizer.lr
    rest = LOSSES[9:]
    assert lr_sequence(second, second_optimizer, rest) == lr_sequence(first, first_optimizer, rest)


def test_scheduler_load_state_dict_names_bad_keys():
    scheduler = StepLR(sgd(), step_size=2)
    with pytest.raises(ValueError, match=r"missing keys \['gamma'\].*unexpected keys \['x'\]"):
        scheduler.load_state_dict({"last_epoch": 1, "step_size": 2, "x": 0})


def test_invalid_scheduler_arguments():
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(sgd(), factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        ReduceLROnPlateau(sgd(), mode="lowest")
    with pytest.raises(ValueError, match="step_size"):
        StepLR(sgd(), step_size=0)


@pytest.mark.parametrize("total", [1, 5, 12])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_decay_factor_matches_torchs_linear_and_cosine_schedules(torch, kind, total):
    optimizer = torch_sgd(torch, 0.3)
    schedulers = torch.optim.lr_scheduler
    if kind == "linear":
        scheduler = schedulers.LinearLR(optimizer, 1.0, 0.0, total_iters=total)
    else:
        scheduler = schedulers.CosineAnnealingLR(optimizer, T_max=total)
    theirs = []
    for _ in range(total):  # the rate each step is taken with
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    ours = [0.3 * decay_factor(kind, t, total) for t in range(total)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_decay_factor_holds_after_the_end_and_refuses_bad_arguments():
    assert decay_factor("none", 7, 3) == 1.0
    assert decay_factor("linear", 0, 4) == 1.0
    assert decay_factor("linear", 9, 4) == decay_factor("linear", 3, 4) == 0.25
    assert decay_factor("cosine", 2, 4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="kind: expected one of none, linear, cosine"):
        decay_factor("exponential", 0, 4)
    with pytest.raises(ValueError, match="total: expected at least 1 step, got 0"):
        decay_factor("cosine", 0, 0)
