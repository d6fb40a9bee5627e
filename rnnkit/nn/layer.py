"""The contract every layer keeps.

A layer owns two dicts with the same keys: ``params`` (name -> array) and ``grads``
(name -> array of the same shape). The arrays are allocated once and only ever updated in
place: optimizers write into ``params``, ``backward`` adds into ``grads`` and ``zero_grad``
fills them with zeros. Because no array is ever rebound, a model can collect the arrays of
its sub-layers into its own dicts once, and an optimizer can hold on to them.

``forward`` keeps in a cache whatever ``backward`` needs; in evaluation mode (``eval()``)
no backward is coming, so recurrent layers keep nothing.
"""

from __future__ import annotations

import numpy as np

DTYPES = (np.float32, np.float64)


def check_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype, or raise if it is not float32 or float64."""
    resolved = np.dtype(dtype)
    if resolved not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"dtype must be float32 or float64, got {resolved}")
    return resolved


class Layer:
    """Base class: parameters, gradients, train/eval mode and state dicts."""

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    training: bool

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}
        self.training = True

    def add_param(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register ``value`` as a parameter with a zero gradient of the same shape."""
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)
        return value

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def zero_grad(self) -> None:
        for grad in self.grads.values():
            grad.fill(0.0)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, under PyTorch's names."""
        return {name: value.copy() for name, value in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the parameters in place (no array is rebound).

        The keys must match exactly and every shape must agree, as with
        ``torch.nn.Module.load_state_dict(strict=True)``.
        """
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

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.params.values()))
