"""Recurrent layers fed ``EmbeddedTokens(table, ids, context)``: the same outputs, final
states and parameter gradients as when fed ``[table[ids] ; context]`` (the context repeated
at every step), and as gradients of the table and the context what the looked-up input's
gradient gives (every cell type, stacked, both directions, batch-first, variable lengths;
float64 NumPy kernels and float32 C loops)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN
from rnnkit.nn.embedding import EmbeddedTokens, add_rows_at
from tests.nn.test_embedding_folding import relative_error, run

VOCAB, EMBED, CONTEXT, STEPS, BATCH = 7, 5, 3, 6, 4


@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "batch_first", "lengths"),
    [(1, False, False, None), (2, True, True, [6, 2, 4, 5]), (1, False, False, [3, 6, 6, 1])],
)
@pytest.mark.parametrize(
    ("dtype", "hidden", "tolerance"), [(np.float64, 4, 1e-12), (np.float32, 16, 1e-5)]
)
def test_context_matches_looked_up_input(
    layer_class, num_layers, bidirectional, batch_first, lengths, dtype, hidden, tolerance
):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((VOCAB, EMBED)).astype(dtype)
    context = rng.standard_normal((BATCH, CONTEXT)).astype(dtype)
    ids = rng.integers(0, VOCAB, (BATCH, STEPS) if batch_first else (STEPS, BATCH))
    time_axis = 1 if batch_first else 0
    looked_up = np.concatenate(
        [table[ids], np.broadcast_to(np.expand_dims(context, time_axis), (*ids.shape, CONTEXT))],
        axis=-1,
    )
    layers = [
        layer_class(EMBED + CONTEXT, hidden, num_layers, batch_first=batch_first,
                    bidirectional=bidirectional, dtype=dtype, rng=1)
        for _ in range(2)
    ]  # fmt: skip
    out_a, finals_a, (grad_table, grad_context) = run(
        layers[0], EmbeddedTokens(table, ids, context), ids.shape, lengths, 2
    )
    out_b, finals_b, grad_x = run(layers[1], looked_up, ids.shape, lengths, 2)
    assert relative_error(out_a, out_b) < tolerance
    for a, b in zip(finals_a, finals_b, strict=True):
        assert relative_error(a, b) < tolerance
    for name in layers[0].grads:
        assert relative_error(layers[0].grads[name], layers[1].grads[name]) < tolerance, name
    expected_table = np.zeros_like(table)
    add_rows_at(expected_table, ids.reshape(-1), grad_x[..., :EMBED].reshape(-1, EMBED))
    assert relative_error(grad_table, expected_table) < tolerance
    assert relative_error(grad_context, grad_x[..., EMBED:].sum(axis=time_axis)) < tolerance


def test_context_of_the_wrong_shape_is_refused():
    layer = LSTM(EMBED + CONTEXT, 4, dtype=np.float64)
    ids = np.zeros((STEPS, BATCH), dtype=np.int64)
    with pytest.raises(ValueError, match="context"):
        layer.forward(EmbeddedTokens(np.zeros((VOCAB, EMBED)), ids, np.zeros((BATCH + 1, CONTEXT))))
