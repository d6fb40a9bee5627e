"""The contract every layer keeps.

A layer owns two dicts with the same keys: ``params`` (name -> array) and ``grads``
(name -> array of the same shape). The arrays are allocated once and only ever updated in
place: optimizers write into ``params``, ``backward`` adds into ``grads`` and ``zero_grad``
fills them with zeros. Because no array is ever rebound, a model can collect the arrays of
its sub-layers into its own dicts once, and an optimizer can hold on to them.

``forward`` keeps in a cache whatever ``backward`` needs; in evaluation mode (``eval()``)
no backward is coming, so recurrent layers keep nothing.

A composite layer (a model) registers its sub-layers with ``add_layer(name, layer)``, as a
``torch.nn.Module`` does by attribute assignment: the sub-layer's arrays appear in the
parent's dicts under ``name.``-prefixed keys (PyTorch's names, e.g. ``rnn.weight_ih_l0``),
``train()``/``eval()`` reach every sub-layer, and ``tie(alias, target)`` makes one
parameter serve two sub-layers (it is listed once in ``params``, and under both names in
``state_dict``, as torch lists a shared parameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from rnnkit.nn.param_versions import parameters_changed

L = TypeVar("L", bound="Layer")
DTYPES = (np.float32, np.float64)


def check_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, or raise if it is not float32 or float64. None is
    the default, float32, as torch's ``dtype=None`` is its default dtype."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError:  # not a dtype at all, e.g. torch.float64
        resolved = dtype
    if resolved not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


def real_array(name: str, value: Any, dtype: Any = None) -> np.ndarray:
    """``value`` as an array of real numbers (cast to ``dtype`` if given), or a ValueError
    naming ``name``: for None, text, complex numbers, booleans and ragged nesting."""
    try:
        array = np.asarray(value)
    except ValueError:  # nested sequences of unequal lengths
        raise ValueError(f"{name}: expected an array of numbers, got ragged nesting") from None
    if value is None or array.dtype.kind not in "iuf":
        got = "None" if value is None else f"dtype {array.dtype}"
        raise ValueError(f"{name}: expected a real-valued array, got {got}")
    return array if dtype is None else array.astype(dtype, copy=False)


def make_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    """RNG itself if it is a Generator (so layers can share one), else a new one seeded by it."""
    if isinstance(rng, np.random.Generator):
        return rng
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError):
        raise ValueError(
            f"rng: expected a numpy Generator, a non-negative integer seed or None, got {rng!r}"
        ) from None


def check_sizes(**sizes: Any) -> None:
    """Raise ValueError naming the first size that is not a positive integer."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)):
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if int(value) != value or value < 1:
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")


class Layer:
    """Base class: parameters, gradients, sub-layers, train/eval mode and state dicts."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    training: bool

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}
        self.training = True
        self.layers: dict[str, Layer] = {}  # registered sub-layers, in registration order
        self.tied: dict[str, str] = {}  # alias -> the parameter name it shares

    def add_layer(self, name: str, layer: L) -> L:
        """Register LAYER as ``self.<name>``, its arrays under ``name.``-prefixed keys."""
        if name in self.layers or "." in name:
            raise ValueError(f"name: expected a new name without dots, got {name!r}")
        self.layers[name] = layer
        setattr(self, name, layer)
        for key in layer.params:
            self.params[f"{name}.{key}"] = layer.params[key]
            self.grads[f"{name}.{key}"] = layer.grads[key]
        return layer

    def tie(self, alias: str, target: str) -> None:
        """Make the parameter ALIAS (``"decoder.weight"``) the same array as TARGET.

        The sub-layer that owned ALIAS now reads TARGET's array and adds its gradient into
        TARGET's gradient, which is the sum autograd computes for a shared parameter. Call
        it before an optimizer holds on to the arrays.
        """
        child_name, _, key = alias.partition(".")
        child = self.layers[child_name]
        if child.params[key].shape != self.params[target].shape:
            raise ValueError(
                f"tie: {alias} has shape {child.params[key].shape} but {target} has "
                f"{self.params[target].shape}"
            )
        child.params[key] = self.params[target]
        child.grads[key] = self.grads[target]
        del self.params[alias], self.grads[alias]
        self.tied[alias] = target

    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register ``value`` as a parameter with a zero gradient of the same shape."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        return value

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        for layer in self.layers.values():
            layer.train(mode)
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def zero_grad(self) -> None:
        for grad in self.grads.values():
            grad.fill(0.0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, under PyTorch's names (a tied one under both)."""
        state = {name: value.copy() for name, value in self.params.items()}
        for alias, target in self.tied.items():
            state[alias] = state[target].copy()
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the parameters in place (no array is rebound).

        The keys must match exactly and every shape must agree, as with
        ``torch.nn.Module.load_state_dict(strict=True)``; the alias of a tied parameter
        may be given or not.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state_dict: expected a mapping of names to arrays, got {type(state).__name__}"
            )
        state = {name: value for name, value in state.items() if name not in self.tied}
        missing = sorted(set(self.params) - set(state))
        unexpected = sorted(set(state) - set(self.params))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise ValueError(f"state_dict does not fit {type(self).__name__}: " + "; ".join(parts))
        for name, param in self.params.items():
            value = np.asarray(state[name])
            if value.shape != param.shape:
                raise ValueError(
                    f"state_dict[{name!r}]: expected shape {param.shape}, got {value.shape}"
                )
            param[...] = value
        parameters_changed()  # caches of arranged weights (single_step) are stale now

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))
