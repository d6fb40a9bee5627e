"""The base every optimizer shares: parameters, gradients, a step counter and state dicts.

An optimizer holds on to a model's ``params`` and ``grads`` dicts (see
:mod:`rnnkit.nn.layer`) and changes the parameter arrays in place, so the model and the
optimizer keep seeing the same arrays. Per-parameter state (momentum, running averages)
lives in buffers shaped like the parameters, in the parameters' dtype.

``state_dict()`` is one flat dict of arrays, so it can be written with
:func:`rnnkit.save_weights`::

    "lr"               0-d float64 array
    "step"             0-d int64 array: how many steps have been taken
    "<buffer>.<name>"  one per buffer and parameter, e.g. "exp_avg.weight_ih_l0"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from rnnkit.nn.param_versions import parameters_changed


def check_state_keys(expected: Iterable[str], state: Mapping[str, object], owner: str) -> None:
    """Raise ValueError naming the missing and unexpected keys of ``state``, if any."""
    expected = set(expected)
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        raise ValueError(f"state_dict does not fit {owner}: " + "; ".join(parts))


def check_non_negative(**values: float) -> None:
    """Raise ValueError for the first hyperparameter below zero (as torch.optim does)."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"invalid {name}: {value} (must be >= 0)")


class Optimizer:
    """Base class: subclasses add their buffers in ``__init__`` and implement ``_update``.

    ``lr`` is a public attribute: learning-rate schedulers change it between steps.
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    lr: float
    step_count: int
    buffers: dict[str, dict[str, np.ndarray]]

    def __init__(
        self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float
    ) -> None:
        check_non_negative(lr=lr)
        if set(params) != set(grads):
            raise ValueError(
                "params and grads must have the same keys, "
                f"got {sorted(params)} and {sorted(grads)}"
            )
        for name, param in params.items():
            if not np.issubdtype(param.dtype, np.floating):
                raise ValueError(f"parameter {name!r} must be floating point, got {param.dtype}")
            if grads[name].shape != param.shape:
                raise ValueError(
                    f"grads[{name!r}] has shape {grads[name].shape}, "
                    f"but the parameter has shape {param.shape}"
                )
        self.params = params
        self.grads = grads
        self.lr = float(lr)
        self.step_count = 0
        # buffer kind (torch's name, e.g. "exp_avg") -> parameter name -> array
        self.buffers = {}
        # Work arrays reused across steps so that updates allocate nothing; they carry
        # nothing from one step to the next, so they are not part of the state.
        self._work: dict[tuple[int, str], np.ndarray] = {}

    def _add_buffer(self, kind: str) -> dict[str, np.ndarray]:
        """Allocate a zero buffer of kind ``kind`` for every parameter, in its dtype."""
        self.buffers[kind] = {name: np.zeros_like(p) for name, p in self.params.items()}
        return self.buffers[kind]

    def _scratch(self, name: str, slot: int = 0) -> np.ndarray:
        """A work array shaped like ``params[name]``, allocated on first use."""
        key = (slot, name)
        if key not in self._work:
            self._work[key] = np.empty_like(self.params[name])
        return self._work[key]

    def _grad_with_weight_decay(self, name: str, weight_decay: float) -> np.ndarray:
        """``grad + weight_decay * param`` (L2 penalty), in a work array; the raw grad if 0.

        The model's gradient is never changed: it belongs to the model, and torch leaves it
        alone too.
        """
        grad = self.grads[name]
        if weight_decay == 0:
            return grad
        out = self._scratch(name, slot=1)
        np.multiply(self.params[name], weight_decay, out=out)
        out += grad
        return out

    def _descend(self, name: str, direction: np.ndarray, scale: float) -> None:
        """``param -= scale * direction`` through a work array (``direction`` may be it)."""
        work = self._scratch(name)
        np.multiply(direction, scale, out=work)
        self.params[name] -= work

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def step(self) -> None:
        """Update every parameter in place from its current gradient."""
        # Counted before the updates, as torch does: bias corrections use step >= 1.
        self.step_count += 1
        for name, param in self.params.items():
            self._update(name, param, self.grads[name])
        parameters_changed()  # caches of arranged weights (rnnkit.nn.single_step) are stale

    def zero_grad(self) -> None:
        """Fill every gradient with zeros, in place."""
        for grad in self.grads.values():
            grad.fill(0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat dict of array copies: ``lr``, ``step`` and ``<buffer>.<param name>``."""
        state = {
            "lr": np.array(self.lr, dtype=np.float64),
            "step": np.array(self.step_count, dtype=np.int64),
        }
        for kind, arrays in self.buffers.items():
            for name, array in arrays.items():
                state[f"{kind}.{name}"] = array.copy()
        return state

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {"lr": (), "step": ()}
        for kind, arrays in self.buffers.items():
            for name, array in arrays.items():
                shapes[f"{kind}.{name}"] = array.shape
        return shapes

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore ``lr``, ``step`` and the buffers (copied in place) from ``state``.

        The keys must match exactly and the shapes agree; nothing is changed otherwise.
        """
        shapes = self._state_shapes()
        check_state_keys(shapes, state, type(self).__name__)
        # Check everything before changing anything, so a bad state leaves no half-load.
        for key, shape in shapes.items():
            got = np.shape(state[key])
            if got != shape:
                raise ValueError(f"state_dict[{key!r}]: expected shape {shape}, got {got}")
        self.lr = float(state["lr"])
        self.step_count = int(state["step"])
        for kind, arrays in self.buffers.items():
            for name, array in arrays.items():
                array[...] = state[f"{kind}.{name}"]
