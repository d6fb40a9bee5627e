"""Single-step cells with the names and shapes of ``torch.nn.RNNCell``, ``LSTMCell`` and
``GRUCell``: ``weight_ih`` ``(G*H, input_size)``, ``weight_hh`` ``(G*H, H)``, ``bias_ih``,
``bias_hh`` ``(G*H,)``.

A cell step is the kernel of the full-sequence layer run for one time step, so the
equations (in ``rnn_kernel``, ``lstm_kernel`` and ``gru_kernel``) live in one place only.
Use a cell to write your own time loop (decoders, sampling). A cell keeps the cache of its
last ``forward`` only, so each ``backward`` must follow its own ``forward``; for BPTT over
many steps use the full-sequence layers, which keep every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.nn import gru_kernel, lstm_kernel, rnn_kernel
from rnnkit.nn.layer import Layer, check_dtype, check_sizes, make_rng, real_array


class _Cell(Layer):
    kernel: Any

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size)
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        self.dtype = check_dtype(dtype)
        rng = make_rng(rng)
        bound = 1.0 / np.sqrt(self.hidden_size)
        gate_size = self.kernel.GATE_COUNT * self.hidden_size
        shapes = {
            "weight_ih": (gate_size, self.input_size),
            "weight_hh": (gate_size, self.hidden_size),
        }
        if self.bias:
            shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
        for name, shape in shapes.items():
            self.add_param(name, rng.uniform(-bound, bound, size=shape).astype(self.dtype))
        self._cache: tuple[Any, bool] | None = None

    def _tuple(self, source: dict[str, np.ndarray]) -> tuple:
        return (
            source["weight_ih"],
            source["weight_hh"],
            source.get("bias_ih"),
            source.get("bias_hh"),
        )

    def _check(self, value: Any, name: str, size: int, batch: int | None) -> np.ndarray:
        value = real_array(name, value, self.dtype)
        expected = (size,) if batch is None else (batch, size)
        if value.shape != expected:
            raise ValueError(f"{name}: expected shape {expected}, got {value.shape}")
        return value

    def _step(self, x: Any, states: tuple[Any, ...] | None) -> tuple[np.ndarray, ...]:
        x = real_array("input", x, self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size or x.shape[0] == 0:
            raise ValueError(
                f"input: expected shape (batch, {self.input_size}) or ({self.input_size},), "
                f"with at least one row, got {x.shape}"
            )
        unbatched = x.ndim == 1
        batch = None if unbatched else x.shape[0]
        names = ("h", "c")[: self.kernel.STATE_COUNT]
        if states is None:
            states = tuple(
                np.zeros((1 if unbatched else batch, self.hidden_size), self.dtype) for _ in names
            )
        else:
            states = tuple(
                self._check(s, name, self.hidden_size, batch).reshape(-1, self.hidden_size)
                for s, name in zip(states, names, strict=True)
            )
        _, final, cache = self._forward_sequence(
            x.reshape(1, -1, self.input_size), states, self._tuple(self.params), self.training
        )
        self._cache = (cache, unbatched) if self.training else None
        return tuple(s[0] if unbatched else s for s in final)

    def _forward_sequence(self, x, states, weights, keep_cache):
        return self.kernel.forward_sequence(x, states, weights, None, False, keep_cache)

    def _step_backward(self, grad_states: tuple[Any, ...]) -> tuple[np.ndarray, tuple]:
        if self._cache is None:
            raise RuntimeError("backward: call forward in training mode first, once per backward")
        cache, unbatched = self._cache
        self._cache = None
        batch = cache.x.shape[1]
        names = ("grad_h", "grad_c")[: self.kernel.STATE_COUNT]
        grads = tuple(
            np.zeros((batch, self.hidden_size), self.dtype)
            if g is None
            else self._check(g, name, self.hidden_size, None if unbatched else batch).reshape(
                batch, self.hidden_size
            )
            for g, name in zip(grad_states, names, strict=True)
        )
        zero_output = np.zeros((1, batch, self.hidden_size), self.dtype)
        grad_x, grad_initial = self.kernel.backward_sequence(
            zero_output, grads, cache, self._tuple(self.grads)
        )
        grad_x = grad_x[0]
        if unbatched:
            return grad_x[0], tuple(g[0] for g in grad_initial)
        return grad_x, grad_initial

    def forward(self, x: Any, hx: Any = None) -> np.ndarray:
        """``h' = cell.forward(x, h)``; ``x`` is ``(batch, input_size)`` or ``(input_size,)``."""
        return self._step(x, None if hx is None else (hx,))[0]

    def backward(self, grad_h: Any) -> tuple[np.ndarray, np.ndarray]:
        """``grad_x, grad_h_prev = cell.backward(grad_h_next)``."""
        grad_x, (grad_hx,) = self._step_backward((grad_h,))
        return grad_x, grad_hx


class RNNCell(_Cell):
    """``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or relu)."""

    kernel = rnn_kernel

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.nonlinearity = rnn_kernel.check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, rng)

    def _forward_sequence(self, x, states, weights, keep_cache):
        return rnn_kernel.forward_sequence(
            x, states, weights, None, False, keep_cache, nonlinearity=self.nonlinearity
        )


class GRUCell(_Cell):
    """One GRU step, gate order ``r, z, n``; see ``gru_kernel``."""

    kernel = gru_kernel


class LSTMCell(_Cell):
    """One LSTM step, gate order ``i, f, g, o``; see ``lstm_kernel``."""

    kernel = lstm_kernel

    def forward(self, x: Any, hx: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """``h', c' = cell.forward(x, (h, c))``."""
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("hx: expected a tuple (h, c) for an LSTMCell")
        h, c = self._step(x, None if hx is None else tuple(hx))
        return h, c

    def backward(self, grad_hx: Any) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """``grad_x, (grad_h, grad_c) = cell.backward((grad_h_next, grad_c_next))``."""
        if not isinstance(grad_hx, (tuple, list)) or len(grad_hx) != 2:
            raise ValueError("grad_hx: expected a tuple (grad_h, grad_c) for an LSTMCell")
        grad_x, (grad_h, grad_c) = self._step_backward(tuple(grad_hx))
        return grad_x, (grad_h, grad_c)
