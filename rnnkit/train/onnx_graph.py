"""Building blocks of rnnkit's ONNX graphs: a small graph builder and rnnkit's layers as
ONNX nodes, with the ``onnx`` package alone (no torch).

Recurrent layers become ONNX's own ``LSTM``, ``GRU`` and ``RNN`` operators, one node per
stacked layer (both directions in one node). The operators order their gates and biases
differently from PyTorch (and so from rnnkit)::

    torch / rnnkit    LSTM  i, f, g, o      GRU  r, z, n       RNN  one gate
    ONNX              LSTM  i, o, f, c      GRU  z, r, h

so each weight's gate blocks are reordered; ``B`` is ``[Wb ; Rb]``, the input and the
recurrent biases side by side; PyTorch's GRU applies the reset gate after the recurrent
product, which is ONNX's ``linear_before_reset=1``. Lengths become ``sequence_lens``:
each row is read to its own end (both directions), as rnnkit's packed lengths do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.errors import UserError
from rnnkit.nn import GRU, LSTM
from rnnkit.nn.recurrent import RecurrentLayer, parameter_names

OPSET = 18
IR_VERSION = 8
# Where each ONNX gate block comes from in torch's order.
GATE_ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "rnn": (0,)}


def import_onnx() -> Any:
    """The ``onnx`` package, or a one-line error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise UserError(
            "ONNX export needs the onnx package, which is not installed: pip install 'rnnkit[onnx]'"
        ) from None
    return onnx


def cell_of(layer: RecurrentLayer) -> str:
    if isinstance(layer, LSTM):
        return "lstm"
    return "gru" if isinstance(layer, GRU) else "rnn"


class Graph:
    """Nodes, weights, inputs and outputs of one ONNX graph; ``model()`` makes the model.

    ``op`` adds a node and returns its output name (or names, with ``outputs`` > 1);
    ``const`` adds a weight. Names are made unique by a counter.
    """

    def __init__(self, name: str) -> None:
        self.onnx = import_onnx()
        self.name = name
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0

    def fresh(self, base: str) -> str:
        self._count += 1
        return f"{base}_{self._count}"

    def const(self, value: Any, name: str = "const", dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        unique = self.fresh(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, unique))
        return unique

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, dtype=np.int64), "ints")

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attributes: Any) -> Any:
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(
            self.onnx.helper.make_node(op_type, inputs, names, self.fresh(op_type), **attributes)
        )
        return names[0] if outputs == 1 else names

    def input(self, name: str, dtype: Any, shape: list[Any]) -> str:
        element = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, element, shape))
        return name

    def output(self, name: str, value: str, dtype: Any, shape: list[Any]) -> None:
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        element = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, element, shape))

    def model(self, doc: str) -> Any:
        helper = self.onnx.helper
        graph = helper.make_graph(
            self.nodes, self.name, self.inputs, self.outputs, self.initializers
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="rnnkit",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        self.onnx.checker.check_model(model)
        return model

    # -- rnnkit's layers -------------------------------------------------------------------

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray | None = None) -> str:
        """``x W^T + b`` over the last axis of X."""
        y = self.op("MatMul", [x, self.const(np.ascontiguousarray(weight.T), "weight")])
        return y if bias is None else self.op("Add", [y, self.const(bias, "bias")])

    def embed(self, table: np.ndarray, ids: str) -> str:
        return self.op("Gather", [self.const(table, "embedding"), ids], axis=0)

    def recurrent(
        self,
        layer: RecurrentLayer,
        x: str,
        lengths: str | None = None,
        initial: tuple[str, ...] | None = None,
    ) -> tuple[str, tuple[str, ...]]:
        """LAYER over X ``(T, B, I)``: ``(output (T, B, D*H), final states)``, the finals a
        tuple of ``(L*D, B, H)`` names (``(h, c)`` for an LSTM, ``(h,)`` otherwise).

        LENGTHS: int32 ``(B,)`` or None (every row fills T); INITIAL: the states in
        rnnkit's shape ``(L*D, B, H)``, or None for zeros.
        """
        cell, D, H = cell_of(layer), layer.num_directions, layer.hidden_size
        states = 2 if cell == "lstm" else 1
        finals: list[list[str]] = [[] for _ in range(states)]
        for index in range(layer.num_layers):
            starts = ["", ""]
            if initial is not None:
                for s in range(states):
                    starts[s] = (
                        initial[s]
                        if layer.num_layers == 1
                        else self.op(
                            "Slice",
                            [
                                initial[s],
                                self.ints(index * D),
                                self.ints((index + 1) * D),
                                self.ints(0),
                            ],
                        )  # fmt: skip
                    )
            W, R, B = self._recurrent_weights(layer, index, cell)
            inputs = [x, W, R, B, lengths or "", starts[0]]
            if cell == "lstm":
                inputs.append(starts[1])
            attributes: dict[str, Any] = {
                "hidden_size": H,
                "direction": "bidirectional" if D == 2 else "forward",
            }
            if cell == "gru":
                attributes["linear_before_reset"] = 1
            if cell == "rnn":
                activation = "Relu" if layer.nonlinearity == "relu" else "Tanh"
                attributes["activations"] = [activation] * D
            outputs = self.op(cell.upper(), _trim(inputs), outputs=1 + states, **attributes)
            y = self.op("Transpose", [outputs[0]], perm=[0, 2, 1, 3])  # (T, B, D, H)
            x = self.op("Reshape", [y, self.ints(0, 0, -1)])
            for s in range(states):
                finals[s].append(outputs[1 + s])
        joined = tuple(
            parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=0) for parts in finals
        )
        return x, joined

    def _recurrent_weights(self, layer: RecurrentLayer, index: int, cell: str) -> tuple:
        order = GATE_ORDER[cell]

        def reordered(array: np.ndarray) -> np.ndarray:
            blocks = np.split(np.asarray(array, dtype=np.float32), len(order), axis=0)
            return np.concatenate([blocks[i] for i in order], axis=0)

        Ws, Rs, Bs = [], [], []
        for direction in range(layer.num_directions):
            names = parameter_names(index, direction == 1, layer.bias)
            w_ih, w_hh = (layer.params[name] for name in names[:2])
            Ws.append(reordered(w_ih))
            Rs.append(reordered(w_hh))
            if layer.bias:
                b_ih, b_hh = (layer.params[name] for name in names[2:])
                Bs.append(np.concatenate([reordered(b_ih), reordered(b_hh)]))
            else:
                Bs.append(np.zeros(2 * w_ih.shape[0], np.float32))
        return (
            self.const(np.stack(Ws), "W"),
            self.const(np.stack(Rs), "R"),
            self.const(np.stack(Bs), "B"),
        )

    # -- small shapes and masks ------------------------------------------------------------

    def dim(self, x: str, axis: int) -> str:
        """The length of X along AXIS, as a 1-element int64 tensor."""
        return self.op("Shape", [x], start=axis, end=axis + 1)

    def step_mask(self, steps: str, lengths: str) -> str:
        """``(T, B)`` booleans, True where ``t < lengths[b]``; STEPS: a 1-element T."""
        count = self.op("Squeeze", [steps, self.ints(0)])
        zero, one = self.const(np.int64(0), "zero"), self.const(np.int64(1), "one")
        positions = self.op("Range", [zero, count, one])  # (T,)
        column = self.op("Unsqueeze", [positions, self.ints(1)])  # (T, 1)
        row = self.op("Unsqueeze", [lengths, self.ints(0)])  # (1, B)
        return self.op("Less", [column, row])

    def top_finals(self, h: str, layer: RecurrentLayer) -> str:
        """``(B, D*H)``: the top layer's final states of each direction side by side."""
        D = layer.num_directions
        total = layer.num_layers * D
        top = self.op("Slice", [h, self.ints(total - D), self.ints(total), self.ints(0)])
        return self.op("Reshape", [self.op("Transpose", [top], perm=[1, 0, 2]), self.ints(0, -1)])


def _trim(inputs: list[str]) -> list[str]:
    """Optional trailing inputs left out rather than given as empty names."""
    while inputs and inputs[-1] == "":
        inputs.pop()
    return inputs
