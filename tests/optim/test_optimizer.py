"""What every optimizer shares: in-place updates, zero_grad, state dicts and their checks."""

import numpy as np
import pytest

from rnnkit import load_weights, save_weights
from rnnkit.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from tests.optim.common import gradient_sequence, make_optimizer, random_arrays, trajectory

CONFIGS = [
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (AdamW, {"lr": 0.01}),
    (RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5}),
    (Adagrad, {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.1}),
]
IDS = [cls.__name__ for cls, _ in CONFIGS]


def hand_over(cls, kwargs, transfer=None, steps=(5, 5)):
    """Step an optimizer, start a second one on its params, ``transfer(first, second)``,
    then step both on the same gradients; return both final params."""
    gradients = gradient_sequence(sum(steps))
    first = make_optimizer(cls, kwargs, random_arrays(seed=0))
    trajectory(first, gradients[: steps[0]])
    second = make_optimizer(cls, kwargs, first.params)
    if transfer is not None:
        transfer(first, second)
    rest = gradients[steps[0] :]
    return trajectory(first, rest)[-1], trajectory(second, rest)[-1]


def copy_state(first, second):
    second.load_state_dict(first.state_dict())


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls, kwargs):
    ours, theirs = hand_over(cls, kwargs, copy_state)
    for name, value in ours.items():
        np.testing.assert_array_equal(value, theirs[name])


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS, ids=IDS)
def test_fresh_optimizer_without_state_diverges(cls, kwargs):
    # The counterpart of the round trip: without the loaded state the runs differ, so
    # the round-trip test really depends on the state being restored.
    ours, theirs = hand_over(cls, kwargs)
    assert not np.array_equal(ours["weight_ih_l0"], theirs["weight_ih_l0"])


def test_state_dict_survives_a_safetensors_file(tmp_path):
    path = tmp_path / "optimizer.safetensors"

    def through_file(first, second):
        first.lr = 0.003  # as a scheduler would: the rate must be restored too
        save_weights(path, first.state_dict())
        second.load_state_dict(load_weights(path))
        assert second.lr == 0.003
        assert second.step_count == 4

    ours, theirs = hand_over(Adam, {"lr": 0.01}, through_file, steps=(4, 4))
    for name, value in ours.items():
        np.testing.assert_array_equal(value, theirs[name])


def test_state_dict_is_flat_and_named_like_torch():
    optimizer = make_optimizer(Adam, {}, random_arrays(seed=0))
    trajectory(optimizer, gradient_sequence(3))
    state = optimizer.state_dict()
    expected = {"lr", "step"} | {
        f"{kind}.{name}" for kind in ("exp_avg", "exp_avg_sq") for name in optimizer.params
    }
    assert set(state) == expected
    assert state["lr"].shape == () and state["lr"] == 1e-3
    assert state["step"].shape == () and state["step"] == 3
    # copies, not the live buffers
    state["exp_avg.bias_ih_l0"][...] = 7.0
    assert not np.any(optimizer.buffers["exp_avg"]["bias_ih_l0"] == 7.0)


def test_load_state_dict_names_missing_and_unexpected_keys():
    optimizer = make_optimizer(SGD, {"lr": 0.1, "momentum": 0.9}, random_arrays(seed=0))
    state = optimizer.state_dict()
    del state["momentum_buffer.bias_ih_l0"]
    state["exp_avg.bias_ih_l0"] = np.zeros(8)
    with pytest.raises(ValueError, match=r"missing keys \['momentum_buffer.bias_ih_l0'\]") as info:
        optimizer.load_state_dict(state)
    assert "unexpected keys ['exp_avg.bias_ih_l0']" in str(info.value)


def test_load_state_dict_rejects_a_wrong_shape_and_changes_nothing():
    optimizer = make_optimizer(RMSprop, {}, random_arrays(seed=0))
    trajectory(optimizer, gradient_sequence(2))
    before = optimizer.state_dict()
    bad = {key: value + 1 for key, value in before.items()}
    bad["square_avg.weight_hh_l0"] = np.zeros((2, 8))
    with pytest.raises(ValueError, match=r"square_avg.weight_hh_l0.*\(8, 2\).*\(2, 8\)"):
        optimizer.load_state_dict(bad)
    after = optimizer.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value)


def test_step_updates_params_in_place_and_leaves_grads_alone():
    optimizer = make_optimizer(SGD, {"lr": 0.1, "weight_decay": 0.5}, random_arrays(seed=0))
    arrays = dict(optimizer.params)
    initial = {name: value.copy() for name, value in arrays.items()}
    grads = random_arrays(seed=1)
    for name, grad in grads.items():
        optimizer.grads[name][...] = grad
    optimizer.step()
    for name, array in optimizer.params.items():
        assert array is arrays[name]
        np.testing.assert_allclose(array, initial[name] - 0.1 * (grads[name] + 0.5 * initial[name]))
        np.testing.assert_array_equal(optimizer.grads[name], grads[name])


def test_zero_grad_fills_the_same_arrays_with_zeros():
    optimizer = make_optimizer(Adam, {}, random_arrays(seed=0))
    arrays = dict(optimizer.grads)
    for grad in arrays.values():
        grad[...] = 3.0
    optimizer.zero_grad()
    for name, grad in optimizer.grads.items():
        assert grad is arrays[name]
        assert not grad.any()


@pytest.mark.parametrize(("cls", "kwargs"), CONFIGS, ids=IDS)
def test_float32_stays_float32_and_tracks_float64(cls, kwargs):
    gradients32 = gradient_sequence(5, dtype=np.float32)
    gradients64 = [{k: v.astype(np.float64) for k, v in g.items()} for g in gradients32]
    initial32 = random_arrays(seed=0, dtype=np.float32)
    single = make_optimizer(cls, kwargs, initial32)
    double = make_optimizer(cls, kwargs, {k: v.astype(np.float64) for k, v in initial32.items()})
    ours, reference = trajectory(single, gradients32), trajectory(double, gradients64)
    for name, value in ours[-1].items():
        assert value.dtype == np.float32
        np.testing.assert_allclose(value, reference[-1][name], rtol=1e-5, atol=1e-6)
    for arrays in single.buffers.values():
        assert all(array.dtype == np.float32 for array in arrays.values())


@pytest.mark.parametrize(
    ("params", "grads", "kwargs", "message"),
    [
        ({"w": np.zeros(2)}, {"v": np.zeros(2)}, {"lr": 0.1}, "same keys"),
        ({"w": np.zeros(2)}, {"w": np.zeros(3)}, {"lr": 0.1}, "shape"),
        ({"w": np.zeros(2, dtype=int)}, {"w": np.zeros(2)}, {"lr": 0.1}, "floating"),
        ({"w": np.zeros(2)}, {"w": np.zeros(2)}, {"lr": -0.1}, "lr"),
        ({"w": np.zeros(2)}, {"w": np.zeros(2)}, {"lr": 0.1, "momentum": -1}, "momentum"),
    ],
    ids=["keys", "shape", "dtype", "negative-lr", "negative-momentum"],
)
def test_invalid_arguments_are_rejected(params, grads, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SGD(params, grads, **kwargs)
