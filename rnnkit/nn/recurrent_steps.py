"""A stacked one-direction RNN, LSTM or GRU run one time step at a time, with BPTT.

A decoder whose next input depends on its last output (input feeding, scheduled sampling,
search) cannot hand the recurrent layer a whole sequence. ``RecurrentSteps`` runs the
layer's own kernels for one step of every layer, with the layer's parameters (so the
gradients land in ``layer.grads`` under the layer's names), and keeps each step's caches on
a stack: ``backward_step`` calls, last step first, undo the ``step`` calls.

The state is a tuple of ``(num_layers, B, H)`` arrays: ``(h,)``, or ``(h, c)`` for an LSTM.
One step, for layer ``l`` with input ``x^0 = x`` and ``x^l = mask_l * h^{l-1}'``::

    h^l', (c^l') = cell_l(x^l, h^l, (c^l))          (the kernels' equations)
    mask_l       = inverted dropout, p = layer.dropout, training and l >= 1 only

Backward of a step, given ``dL/dh^{top}'`` and the gradients of the new states: each
layer's kernel backward with ``grad_output = dL/dh^l'`` from the layer above (the output of
a layer is its new ``h``, so the two gradients add), returning ``dL/dx`` and the gradients
of the previous states.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.nn.dropout import dropout_mask
from rnnkit.nn.recurrent import LSTM, RecurrentLayer


class RecurrentSteps:
    """Steps of ``layer`` (not bidirectional); see the module docstring."""

    def __init__(self, layer: RecurrentLayer) -> None:
        if layer.bidirectional:
            raise ValueError("layer: a step reads left to right, it must not be bidirectional")
        self.layer = layer
        self.state_count = 2 if isinstance(layer, LSTM) else 1
        self._stack: list[list[tuple[Any, np.ndarray | None]]] = []

    def as_tuple(self, state: Any) -> tuple[np.ndarray, ...]:
        """A state as the layer takes it (``h`` or ``(h, c)``) -> the tuple form."""
        return tuple(state) if self.state_count == 2 else (state,)

    def as_layer_state(self, state: tuple[np.ndarray, ...]) -> Any:
        """The tuple form -> the layer's form."""
        return state if self.state_count == 2 else state[0]

    def zeros(self, batch: int) -> tuple[np.ndarray, ...]:
        shape = (self.layer.num_layers, batch, self.layer.hidden_size)
        return tuple(np.zeros(shape, self.layer.dtype) for _ in range(self.state_count))

    def step(
        self, x: np.ndarray, state: tuple[np.ndarray, ...], keep_cache: bool = True
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``(h_top (B, H), new state)`` after one step on input ``x`` ``(B, input_size)``."""
        layer = self.layer
        new_state = tuple(np.empty_like(s) for s in state)
        caches = []
        layer_input = np.asarray(x, dtype=layer.dtype)
        for index in range(layer.num_layers):
            mask = None
            if index > 0 and layer.training and layer.dropout > 0.0:
                mask = dropout_mask(layer_input.shape, layer.dropout, layer.rng, layer.dtype)
                layer_input = layer_input * mask
            output, final, cache = layer._run_kernel(
                np.ascontiguousarray(layer_input[None]),
                tuple(np.ascontiguousarray(s[index]) for s in state),
                layer._weights(index, 0, layer.params),
                None,
                False,
                keep_cache,
            )
            for buffer, value in zip(new_state, final, strict=True):
                buffer[index] = value
            caches.append((cache, mask))
            layer_input = output[0]
        if keep_cache:
            self._stack.append(caches)
        return layer_input, new_state

    def backward_step(
        self, grad_h: np.ndarray, grad_state: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``(dL/dx, dL/dstate)`` of the last ``step`` not yet undone, given ``dL/dh_top``
        ``(B, H)`` and ``dL/d(new state)``; the parameters' gradients are added."""
        if not self._stack:
            raise RuntimeError("backward_step: no step to undo; call step in training mode first")
        layer, caches = self.layer, self._stack.pop()
        grad_previous = tuple(np.empty_like(g) for g in grad_state)
        grad_output = np.asarray(grad_h, dtype=layer.dtype)
        for index in reversed(range(layer.num_layers)):
            cache, mask = caches[index]
            grad_x, grad_initial = layer.kernel.backward_sequence(
                np.ascontiguousarray(grad_output[None]),
                tuple(np.ascontiguousarray(g[index]) for g in grad_state),
                cache,
                layer._weights(index, 0, layer.grads),
            )
            for buffer, value in zip(grad_previous, grad_initial, strict=True):
                buffer[index] = value
            grad_output = grad_x[0] if mask is None else grad_x[0] * mask
        return grad_output, grad_previous

    def clear(self) -> None:
        """Drop the caches of steps that will not be undone."""
        self._stack.clear()
