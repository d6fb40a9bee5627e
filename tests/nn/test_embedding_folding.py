"""Recurrent layers fed ``EmbeddedTokens(table, ids)``: the same outputs, final states and
parameter gradients as when fed ``table[ids]``, and as gradient of the table what
``Embedding.backward`` makes of the input gradient (float64, every cell type, stacked,
both directions, batch-first, variable lengths)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.nn import GRU, LSTM, RNN, Embedding
from rnnkit.nn.embedding import EmbeddedTokens

VOCAB, INPUT, HIDDEN, STEPS, BATCH = 7, 5, 4, 6, 3
RTOL = 1e-12


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def run(layer, x, ids_shape, lengths, grad_seed):
    """Forward and backward with fixed random output and final-state gradients."""
    output, final = layer.forward(x, None, lengths)
    rng = np.random.default_rng(grad_seed)
    grad_output = rng.standard_normal(output.shape)
    finals = final if isinstance(final, tuple) else (final,)
    grad_final = tuple(rng.standard_normal(f.shape) for f in finals)
    if lengths is not None:
        # Past a row's length the output is zero and its gradient is ignored.
        time_axis = 1 if layer.batch_first else 0
        steps = np.arange(output.shape[time_axis])
        valid = steps[:, None] < np.asarray(lengths)[None, :]
        grad_output *= (valid.T if layer.batch_first else valid)[..., None]
    grad_input, _ = layer.backward(grad_output, grad_final if len(finals) == 2 else grad_final[0])
    return output, finals, grad_input


@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
@pytest.mark.parametrize(
    ("num_layers", "bidirectional", "batch_first", "lengths"),
    [(1, False, False, None), (2, True, True, [6, 2, 4]), (2, False, False, [3, 6, 6])],
)
def test_tokens_match_looked_up_input(layer_class, num_layers, bidirectional, batch_first, lengths):
    rng = np.random.default_rng(0)
    embedding = Embedding(VOCAB, INPUT, dtype=np.float64, rng=rng)
    table = embedding.params["weight"]
    ids = rng.integers(0, VOCAB, (BATCH, STEPS) if batch_first else (STEPS, BATCH))
    layers = [
        layer_class(
            INPUT,
            HIDDEN,
            num_layers,
            batch_first=batch_first,
            bidirectional=bidirectional,
            dtype=np.float64,
            rng=1,
        )
        for _ in range(2)
    ]
    looked_up = run(layers[0], embedding.forward(ids), ids.shape, lengths, grad_seed=2)
    folded = run(layers[1], EmbeddedTokens(table, ids), ids.shape, lengths, grad_seed=2)

    assert relative_error(folded[0], looked_up[0]) < RTOL
    for mine, reference in zip(folded[1], looked_up[1], strict=True):
        assert relative_error(mine, reference) < RTOL
    for name, grad in layers[0].grads.items():
        assert relative_error(layers[1].grads[name], grad) < RTOL, name
    embedding.backward(looked_up[2])
    assert folded[2].shape == table.shape
    assert relative_error(folded[2], embedding.grads["weight"]) < RTOL


def test_eval_mode_tokens_match_and_keep_no_cache() -> None:
    rng = np.random.default_rng(3)
    table = rng.standard_normal((VOCAB, INPUT))
    ids = rng.integers(0, VOCAB, (STEPS, BATCH))
    layer = LSTM(INPUT, HIDDEN, 2, dtype=np.float64, rng=4).eval()
    expected, _ = layer.forward(table[ids])
    output, _ = layer.forward(EmbeddedTokens(table, ids))
    assert relative_error(output, expected) < RTOL
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.zeros_like(output))


@pytest.mark.parametrize(
    ("table_shape", "ids", "message"),
    [
        ((VOCAB, INPUT + 1), np.zeros((2, 2), dtype=int), "table: expected shape"),
        ((VOCAB, INPUT), np.zeros(4, dtype=int), "ids: expected a non-empty 2-D"),
        ((VOCAB, INPUT), np.full((2, 2), VOCAB), r"ids: expected values in \[0, 7\)"),
    ],
)
def test_bad_tokens_are_named(table_shape, ids, message) -> None:
    layer = GRU(INPUT, HIDDEN, dtype=np.float64, rng=0)
    with pytest.raises(ValueError, match=message):
        layer.forward(EmbeddedTokens(np.zeros(table_shape), ids))
