"""Full-sequence recurrent layers with the constructor and semantics of ``torch.nn.RNN``,
``torch.nn.LSTM`` and ``torch.nn.GRU``: stacked layers, both directions, inter-layer dropout,
``batch_first``, initial states, and variable lengths with the semantics of packed
sequences.

The cell equations and their backward pass are in ``rnn_kernel``, ``lstm_kernel`` and
``gru_kernel`` (``dispatch`` runs float32 layers in C where it can); this module wires
layers and directions together::

    layer 0 input   x
    layer l output  [h^fwd_t ; h^rev_t]  (directions concatenated on the feature axis)
    layer l+1 input dropout(layer l output)   (training only, not after the last layer)

The input may also be ``EmbeddedTokens(table, ids)`` (token ids and an embedding table,
``x = table[ids]``): layer 0 then looks its input projection up in ``P = table W_ih^T + b``
(``V x G*H``, one GEMM over the table's ``V`` rows instead of one over all ``T * B``
tokens), and ``backward`` returns the gradient of ``table`` ``(V, input_size)`` in place of
``grad_x``, from ``dP`` (the layer-0 gate gradients summed per token id) as
``dW_ih += dP^T table`` and ``dtable = dP W_ih``; see ``sequence_ops``. Worth it when
``V <= T * B``: a language model's embedding feeding its first layer. Tokens with a
``context`` (a vector per row appended to every step, ``EmbeddedTokens``) project it once
per row, and ``backward`` returns ``(grad of table, grad of context)``.

Parameters carry PyTorch's names and shapes, e.g. ``weight_ih_l0`` ``(G*H, input_size)``,
``weight_hh_l1_reverse`` ``(G*H, H)``, ``bias_ih_l0`` ``(G*H,)`` with ``G`` = 1 (RNN),
3 (GRU) or 4 (LSTM), so a state dict moves to and from PyTorch unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.nn import dispatch, rnn_kernel, single_step
from rnnkit.nn.dropout import check_probability, dropout_mask
from rnnkit.nn.embedding import EmbeddedTokens, check_indices
from rnnkit.nn.layer import Layer, check_dtype, check_sizes, make_rng, real_array


def parameter_names(layer: int, reverse: bool, bias: bool) -> list[str]:
    """PyTorch's names of one layer-direction's parameters, in PyTorch's order."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
    if bias:
        names += [f"bias_ih{suffix}", f"bias_hh{suffix}"]
    return names


def lengths_to_batch_sizes(
    lengths: Any, batch: int, num_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``lengths`` and return ``(order, batch_sizes)``.

    ``order`` sorts the rows by decreasing length (stable); ``batch_sizes[t]`` is how many of
    the sorted rows are still running at time ``t``, as in a packed sequence.
    """
    try:
        lengths = np.asarray(lengths)
    except ValueError:  # ragged nesting: no shape at all
        lengths = np.asarray(None)
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths: expected shape ({batch},), one per batch row, got {lengths.shape}"
        )
    if lengths.dtype.kind not in "biuf":  # text, None, complex, integers past int64
        raise ValueError(
            f"lengths: expected integers between 1 and the sequence length {num_steps}, "
            f"got {lengths.tolist()}"
        )
    if lengths.dtype.kind == "f":  # integral floats are lengths too
        fractional = np.flatnonzero(~(np.isfinite(lengths) & (np.round(lengths) == lengths)))
        if fractional.size:
            row = int(fractional[0])
            raise ValueError(
                f"lengths[{row}] = {float(lengths[row])}: lengths must be integers between 1 "
                f"and the sequence length {num_steps}"
            )
    bad = np.flatnonzero((lengths < 1) | (lengths > num_steps))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"lengths[{row}] = {int(lengths[row])}: every length must be between 1 and the "
            f"sequence length {num_steps}"
        )
    lengths = lengths.astype(np.int64)  # in range now: no value can overflow
    order = np.argsort(-lengths, kind="stable")
    batch_sizes = (lengths[None, :] > np.arange(num_steps)[:, None]).sum(axis=1)
    return order, batch_sizes


def _map_state(state: Any, function: Any) -> Any:
    """Apply ``function`` to a state: an array, an LSTM pair (either part may be None), or
    None."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(None if part is None else function(np.asarray(part)) for part in state)
    return function(np.asarray(state))


def _rows_in_order(x: np.ndarray | EmbeddedTokens, order: np.ndarray) -> Any:
    """The batch rows of a time-major ``x`` (or tokens and their context) in ``order``."""
    if not isinstance(x, EmbeddedTokens):
        return x[:, order]
    context = None if x.context is None else x.context[order]
    return EmbeddedTokens(x.table, x.ids[:, order], context)


def _add_grads(total: Any, grad: Any) -> Any:
    """Sum the input gradients of two directions (arrays, or ``(table, context)`` pairs)."""
    if total is None:
        return grad
    if isinstance(grad, tuple):
        return tuple(a + b for a, b in zip(total, grad, strict=True))
    return total + grad


@dataclass
class _ForwardCache:
    kernel_caches: list[list[Any]]  # [layer][direction]
    dropout_masks: list[np.ndarray | None]  # mask applied to the input of layer l
    order: np.ndarray | None  # row permutation applied for lengths
    input_shape: tuple[int, ...]  # of x, or of the ids of EmbeddedTokens
    tokens: bool  # the input was EmbeddedTokens: backward returns the table gradient


class RecurrentLayer(Layer):
    """Shared machinery of ``RNN``, ``LSTM`` and ``GRU``; see the module docstring."""

    kernel: dispatch.CellKernels  # the cell's kernels, in C or NumPy (see dispatch)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        dropout = check_probability(dropout, "dropout")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.num_directions = 2 if bidirectional else 1
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(rng)
        self._cache: _ForwardCache | None = None
        self._unbatched = False  # forward saw a 2-D input: backward squeezes likewise

        # PyTorch's default: every weight and bias uniform in (-1/sqrt(H), 1/sqrt(H)).
        bound = 1.0 / np.sqrt(self.hidden_size)
        gate_size = self.kernel.GATE_COUNT * self.hidden_size
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for direction in range(self.num_directions):
                shapes = [
                    (gate_size, layer_input),
                    (gate_size, self.hidden_size),
                    (gate_size,),
                    (gate_size,),
                ]
                for name, shape in zip(
                    parameter_names(layer, direction == 1, self.bias), shapes, strict=False
                ):
                    value = self.rng.uniform(-bound, bound, size=shape).astype(self.dtype)
                    self.add_param(name, value)

    # -- helpers -----------------------------------------------------------------------------

    def _weights(self, layer: int, direction: int, source: dict[str, np.ndarray]) -> tuple:
        names = parameter_names(layer, direction == 1, self.bias)
        values = [source[name] for name in names]
        return tuple(values) if self.bias else (values[0], values[1], None, None)

    def _run_kernel(self, x, state, weights, batch_sizes, reverse, keep_cache):
        return self.kernel.forward_sequence(x, state, weights, batch_sizes, reverse, keep_cache)

    @property
    def engine(self) -> str:
        """Where the time loops run, for people: ``"NumPy"``, or for a float32 layer that
        the C loops serve, ``"C (<instruction set>), N threads"``."""
        return dispatch.engine(self.dtype, self.hidden_size)

    def _state_shape(self, batch: int | None) -> tuple[int, ...]:
        """``(L*D, batch, H)``, or ``(L*D, H)`` for an unbatched input (``batch`` None)."""
        if batch is None:
            return (self.num_layers * self.num_directions, self.hidden_size)
        return (self.num_layers * self.num_directions, batch, self.hidden_size)

    def _check_state(self, state: Any, name: str, batch: int | None) -> np.ndarray:
        expected = self._state_shape(batch)
        value = real_array(name, state, self.dtype)
        if value.shape != expected:
            raise ValueError(f"{name}: expected shape {expected}, got {value.shape}")
        return value

    def _unpack_state(self, hx: Any, batch: int | None) -> tuple[np.ndarray, ...]:
        """The initial state as a tuple of ``(L*D, B, H)`` arrays (``(L*D, H)`` when ``batch``
        is None, for an unbatched input; zeros when ``hx`` is None)."""
        if hx is None:
            zeros = np.zeros(self._state_shape(batch), dtype=self.dtype)
            return tuple(zeros for _ in range(self.kernel.STATE_COUNT))
        return (self._check_state(hx, "h_0", batch),)

    def _pack_state(self, states: tuple[np.ndarray, ...]) -> Any:
        return states[0]

    # -- forward / backward ------------------------------------------------------------------

    def forward(self, x: Any, hx: Any = None, lengths: Any = None) -> tuple[np.ndarray, Any]:
        """``output, h_n = layer.forward(x, h_0, lengths)``, shapes as in PyTorch.

        ``x`` is ``(T, B, input_size)``, or ``(B, T, input_size)`` with ``batch_first``;
        ``output`` is ``(T, B, D * hidden_size)`` (batch first likewise) and ``h_n`` is
        ``(num_layers * D, B, hidden_size)`` with ``D`` = 2 if bidirectional else 1.
        An unbatched ``(T, input_size)`` input gives ``(T, D * hidden_size)`` and
        ``(num_layers * D, hidden_size)``, as in PyTorch.
        ``x`` may be ``EmbeddedTokens(table, ids)`` with ``table`` ``(V, input_size)`` and
        ``ids`` ``(T, B)`` (``(B, T)`` with ``batch_first``): the same as ``x = table[ids]``,
        computed through the table (see the module docstring).

        In eval mode, one step of one row (a decoder's loop) of a float32 layer runs on a
        copy of the weights arranged for the C loops, made again after an ``rnnkit.optim``
        step or ``load_state_dict``. After writing into ``params`` any other way, call
        ``rnnkit.nn.param_versions.parameters_changed()``, or such steps keep the old weights.
        """
        # One step of one row in eval mode: the C stack step on cached weights.
        stepped = None if lengths is not None else single_step.forward(self, x, hx)
        if stepped is not None:
            self._cache = None  # as after any forward outside training
            return stepped
        if isinstance(x, EmbeddedTokens):
            self._unbatched = False
            return self._forward_batched(x, hx, lengths)
        x = real_array("input", x)
        # A 2-D input of the wrong width goes down the batched path, which names its shape.
        self._unbatched = x.ndim == 2 and x.shape[-1] == self.input_size
        if not self._unbatched:
            return self._forward_batched(x, hx, lengths)
        if lengths is not None:
            raise ValueError("lengths: not accepted with an unbatched (seq_len, input_size) input")
        if x.shape[0] == 0:
            raise ValueError(f"input: expected at least one time step, got shape {x.shape}")
        batch_axis = 0 if self.batch_first else 1
        # The states are checked in the shapes the caller gives, (L*D, H), then given a
        # batch axis of one.
        states = None if hx is None else self._with_batch_of_one(self._unpack_state(hx, None))
        output, state = self._forward_batched(np.expand_dims(x, batch_axis), states, None)
        return output.squeeze(batch_axis), _map_state(state, lambda s: s[:, 0])

    def _with_batch_of_one(self, states: tuple[np.ndarray, ...]) -> Any:
        """Unbatched ``(L*D, H)`` states (or their gradients) as ``hx`` of batch one."""
        return self._pack_state(tuple(s[:, None] for s in states))

    def _time_major_tokens(self, tokens: EmbeddedTokens) -> EmbeddedTokens:
        """Checked ``tokens`` with time-major ids and the table (and context) in the layer's
        dtype."""
        ids, table = np.asarray(tokens.ids), np.asarray(tokens.table, dtype=self.dtype)
        context = tokens.context
        width = self.input_size
        if context is not None:
            context = np.ascontiguousarray(context, dtype=self.dtype)
            batch = ids.shape[0 if self.batch_first else 1] if ids.ndim == 2 else -1
            if context.ndim != 2 or context.shape[0] != batch or context.shape[1] >= width:
                raise ValueError(
                    f"context: expected shape (batch={batch}, C) with C < input_size={width}, "
                    f"got {context.shape}"
                )
            width -= context.shape[1]
        if table.ndim != 2 or table.shape[1] != width:
            raise ValueError(f"table: expected shape (num_embeddings, {width}), got {table.shape}")
        if ids.ndim != 2 or ids.size == 0:
            raise ValueError(f"ids: expected a non-empty 2-D array of token ids, got {ids.shape}")
        check_indices("ids", ids, table.shape[0])
        ids = np.ascontiguousarray(ids.T if self.batch_first else ids)
        return EmbeddedTokens(table, ids, context)

    def _time_major_input(self, x: np.ndarray) -> np.ndarray:
        """``x`` checked, time-major, contiguous and in the layer's dtype."""
        layout = (
            "(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)"
        )
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"input: expected a 3-D array {layout} (or 2-D, unbatched) with "
                f"input_size={self.input_size}, got shape {x.shape}"
            )
        if 0 in x.shape:
            raise ValueError(
                f"input: expected at least one time step and one row, got shape {x.shape}"
            )
        return np.ascontiguousarray(x.transpose(1, 0, 2) if self.batch_first else x, self.dtype)

    def _forward_batched(
        self, x: np.ndarray | EmbeddedTokens, hx: Any, lengths: Any
    ) -> tuple[np.ndarray, Any]:
        tokens = isinstance(x, EmbeddedTokens)
        input_shape = np.shape(x.ids) if tokens else x.shape
        x = self._time_major_tokens(x) if tokens else self._time_major_input(x)
        num_steps, batch, _ = x.shape
        states = self._unpack_state(hx, batch)

        order, batch_sizes = None, None
        if lengths is not None:
            order, batch_sizes = lengths_to_batch_sizes(lengths, batch, num_steps)
            if np.all(batch_sizes == batch):
                batch_sizes = None  # every row runs the whole sequence: nothing to mask
            if np.all(order == np.arange(batch)):
                order = None
            else:
                x = _rows_in_order(x, order)
                states = tuple(s[:, order] for s in states)

        keep_cache = self.training
        final_states = [np.empty(self._state_shape(batch), dtype=self.dtype) for _ in states]
        kernel_caches: list[list[Any]] = []
        dropout_masks: list[np.ndarray | None] = []
        layer_input = x
        for layer in range(self.num_layers):
            mask = None
            if layer > 0 and self.training and self.dropout > 0.0:
                mask = dropout_mask(layer_input.shape, self.dropout, self.rng, self.dtype)
                layer_input = layer_input * mask
            dropout_masks.append(mask)
            outputs, caches = [], []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                output, final, cache = self._run_kernel(
                    layer_input,
                    tuple(np.ascontiguousarray(s[index]) for s in states),
                    self._weights(layer, direction, self.params),
                    batch_sizes,
                    direction == 1,
                    keep_cache,
                )
                for buffer, value in zip(final_states, final, strict=True):
                    buffer[index] = value
                outputs.append(output)
                caches.append(cache)
            kernel_caches.append(caches)
            layer_input = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)

        output = layer_input
        if order is not None:
            inverse = np.argsort(order)
            output = output[:, inverse]
            final_states = [s[:, inverse] for s in final_states]
        if self.batch_first:
            output = output.transpose(1, 0, 2)
        output = np.ascontiguousarray(output)
        if keep_cache and any(np.may_share_memory(output, c.hidden) for c in kernel_caches[-1]):
            # Where no row ends early the kernels return their state buffer as the output,
            # and backward reads it: the caller may write into the output (as torch allows)
            # without changing any gradient.
            output = output.copy()
        self._cache = (
            _ForwardCache(kernel_caches, dropout_masks, order, input_shape, tokens)
            if keep_cache
            else None
        )
        return output, self._pack_state(tuple(final_states))

    def backward(self, grad_output: Any, grad_hn: Any = None) -> tuple[np.ndarray, Any]:
        """``grad_x, grad_h_0 = layer.backward(grad_output, grad_h_n)``.

        Parameter gradients are added into ``self.grads`` (call ``zero_grad`` between
        batches). Gradients of ``output`` past a row's length are ignored, as they are by
        PyTorch's packed sequences. After a forward on ``EmbeddedTokens``, ``grad_x`` is the
        gradient of their ``table``, ``(V, input_size)``.
        """
        if not self._unbatched or self._cache is None:
            return self._backward_batched(grad_output, grad_hn)
        batch_axis = 0 if self.batch_first else 1
        # Checked in the unbatched shapes the caller gives, then given a batch axis of one.
        grad_output = real_array("grad_output", grad_output, self.dtype)
        expected = (
            self._cache.input_shape[1 - batch_axis],
            self.num_directions * self.hidden_size,
        )
        if grad_output.shape != expected:
            raise ValueError(f"grad_output: expected shape {expected}, got {grad_output.shape}")
        grad_states = None
        if grad_hn is not None:
            grad_states = self._with_batch_of_one(self._unpack_grad_state(grad_hn, None))
        grad_x, grad_state = self._backward_batched(
            np.expand_dims(grad_output, batch_axis), grad_states
        )
        return grad_x.squeeze(batch_axis), _map_state(grad_state, lambda g: g[:, 0])

    def _backward_batched(self, grad_output: Any, grad_hn: Any) -> tuple[np.ndarray, Any]:
        cache = self._cache
        if cache is None:
            raise RuntimeError(
                "backward: no forward pass to differentiate; call forward in training mode "
                "(layer.train()) first, and only once per backward"
            )
        self._cache = None
        grad_output = real_array("grad_output", grad_output, self.dtype)
        num_steps, batch = (
            (cache.input_shape[1], cache.input_shape[0])
            if self.batch_first
            else cache.input_shape[:2]
        )
        expected = ((batch, num_steps) if self.batch_first else (num_steps, batch)) + (
            self.num_directions * self.hidden_size,
        )
        if grad_output.shape != expected:
            raise ValueError(f"grad_output: expected shape {expected}, got {grad_output.shape}")
        if self.batch_first:
            grad_output = grad_output.transpose(1, 0, 2)
        grad_states = self._unpack_grad_state(grad_hn, batch)
        if cache.order is not None:
            grad_output = grad_output[:, cache.order]
            grad_states = tuple(g[:, cache.order] for g in grad_states)

        H = self.hidden_size
        grad_initial = [np.empty(self._state_shape(batch), dtype=self.dtype) for _ in grad_states]
        grad_layer_output = grad_output
        for layer in reversed(range(self.num_layers)):
            grad_layer_input = None
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                grad_x, grad_state = self.kernel.backward_sequence(
                    grad_layer_output[:, :, direction * H : (direction + 1) * H],
                    tuple(g[index] for g in grad_states),
                    cache.kernel_caches[layer][direction],
                    self._weights(layer, direction, self.grads),
                )
                for buffer, value in zip(grad_initial, grad_state, strict=True):
                    buffer[index] = value
                grad_layer_input = _add_grads(grad_layer_input, grad_x)
            mask = cache.dropout_masks[layer]
            if mask is not None:
                grad_layer_input *= mask
            grad_layer_output = grad_layer_input

        grad_x = grad_layer_output
        if cache.order is not None:
            inverse = np.argsort(cache.order)
            grad_initial = [g[:, inverse] for g in grad_initial]
            if isinstance(grad_x, tuple):  # (table, context): the context's rows go back
                grad_x = (grad_x[0], grad_x[1][inverse])
            elif not cache.tokens:
                grad_x = grad_x[:, inverse]
        if self.batch_first and not cache.tokens:
            grad_x = grad_x.transpose(1, 0, 2)
        if isinstance(grad_x, tuple):
            return tuple(map(np.ascontiguousarray, grad_x)), self._pack_state(tuple(grad_initial))
        return np.ascontiguousarray(grad_x), self._pack_state(tuple(grad_initial))

    def _unpack_grad_state(self, grad_hn: Any, batch: int | None) -> tuple[np.ndarray, ...]:
        if grad_hn is None:
            zeros = np.zeros(self._state_shape(batch), dtype=self.dtype)
            return tuple(zeros for _ in range(self.kernel.STATE_COUNT))
        return (self._check_state(grad_hn, "grad_h_n", batch),)

    def __repr__(self) -> str:
        extras = []
        if self.num_layers != 1:
            extras.append(f"num_layers={self.num_layers}")
        for name, default in (
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, name) != default:
                extras.append(f"{name}={getattr(self, name)}")
        args = ", ".join([str(self.input_size), str(self.hidden_size), *extras])
        return f"{type(self).__name__}({args})"


class RNN(RecurrentLayer):
    """Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (or relu)."""

    kernel = dispatch.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.nonlinearity = rnn_kernel.check_nonlinearity(nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
            rng,
        )

    def _run_kernel(self, x, state, weights, batch_sizes, reverse, keep_cache):
        return self.kernel.forward_sequence(
            x, state, weights, batch_sizes, reverse, keep_cache, nonlinearity=self.nonlinearity
        )


class GRU(RecurrentLayer):
    """Gated recurrent unit, PyTorch's gate order ``r, z, n``; see ``gru_kernel``."""

    kernel = dispatch.GRU


class LSTM(RecurrentLayer):
    """Long short-term memory, PyTorch's gate order ``i, f, g, o``; see ``lstm_kernel``.

    ``output, (h_n, c_n) = lstm.forward(x, (h_0, c_0), lengths)`` and
    ``grad_x, (grad_h_0, grad_c_0) = lstm.backward(grad_output, (grad_h_n, grad_c_n))``.
    """

    kernel = dispatch.LSTM

    def _unpack_state(self, hx: Any, batch: int | None) -> tuple[np.ndarray, ...]:
        if hx is None:
            return super()._unpack_state(None, batch)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError("hx: expected a tuple (h_0, c_0) for an LSTM")
        return (self._check_state(hx[0], "h_0", batch), self._check_state(hx[1], "c_0", batch))

    def _unpack_grad_state(self, grad_hn: Any, batch: int | None) -> tuple[np.ndarray, ...]:
        if grad_hn is None:
            return super()._unpack_grad_state(None, batch)
        if not isinstance(grad_hn, (tuple, list)) or len(grad_hn) != 2:
            raise ValueError("grad_hn: expected a tuple (grad_h_n, grad_c_n) for an LSTM")
        zeros = np.zeros(self._state_shape(batch), dtype=self.dtype)
        grad_h = zeros if grad_hn[0] is None else self._check_state(grad_hn[0], "grad_h_n", batch)
        grad_c = zeros if grad_hn[1] is None else self._check_state(grad_hn[1], "grad_c_n", batch)
        return (grad_h, grad_c)

    def _pack_state(self, states: tuple[np.ndarray, ...]) -> Any:
        return states[0], states[1]


# The recurrent layers by the names settings use for them (``cell="lstm"``).
RECURRENT_LAYERS: dict[str, type[RecurrentLayer]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def recurrent_parameter_count(
    cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool = False
) -> int:
    """How many parameters ``RNN``/``LSTM``/``GRU(input_size, hidden_size, num_layers,
    bidirectional=...)`` has, without making it: per layer and direction,
    ``G*H*(I + H) + 2*G*H`` with ``G`` gates (RNN 1, GRU 3, LSTM 4) and ``I`` the layer's
    input size (``input_size``, then ``D*H``)."""
    gates = RECURRENT_LAYERS[cell].kernel.GATE_COUNT
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else directions * hidden_size
        total += directions * gates * hidden_size * (layer_input + hidden_size + 2)
    return total
