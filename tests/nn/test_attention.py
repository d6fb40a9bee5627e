"""Attention: each kind against torch in float64 (context, weights and every gradient, with
padded memories), finite differences, and padding that changes nothing."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from rnnkit.nn.attention import ATTENTION_KINDS, Attention
from tests.gradcheck import assert_close, numerical_gradient

B, T, S, Q = 3, 2, 5, 4
LENGTHS = np.array([5, 2, 3])


def make(kind: str, memory_size: int = Q) -> Attention:
    size = Q if kind == "dot" else memory_size
    return Attention(kind, Q, size, attention_size=3, dtype=np.float64, rng=0)


def problem(memory_size: int = Q, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    query = rng.standard_normal((B, T, Q))
    memory = rng.standard_normal((B, S, memory_size))
    grad_context = rng.standard_normal((B, T, memory_size))
    return query, memory, grad_context


def torch_attention(torch: ModuleType, layer: Attention, query, memory, lengths):
    """The docstring's equations written with torch operations."""
    params = {k: torch.tensor(v, requires_grad=True) for k, v in layer.params.items()}
    q = torch.tensor(query, requires_grad=True)
    m = torch.tensor(memory, requires_grad=True)
    keys = m if layer.kind == "dot" else m @ params["keys.weight"].T
    if layer.kind == "additive":
        hidden = torch.tanh((q @ params["query.weight"].T)[:, :, None] + keys[:, None])
        scores = (hidden @ params["score.weight"].T)[..., 0]
    else:
        scores = q @ keys.transpose(1, 2)
    valid = torch.arange(memory.shape[1])[None, :] < torch.tensor(lengths)[:, None]
    weights = torch.softmax(scores.masked_fill(~valid[:, None, :], float("-inf")), dim=-1)
    return weights @ m, weights, q, m, params


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_matches_torch(torch: ModuleType, kind: str) -> None:
    memory_size = Q if kind == "dot" else 6
    layer = make(kind, memory_size)
    query, memory, grad_context = problem(memory_size)
    context = layer.forward(query, memory, LENGTHS)
    grad_query, grad_memory = layer.backward(grad_context)

    t_context, t_weights, q, m, params = torch_attention(torch, layer, query, memory, LENGTHS)
    t_context.backward(torch.tensor(grad_context))
    assert_close(context, t_context)
    assert_close(layer.weights, t_weights)
    assert_close(grad_query, q.grad)
    assert_close(grad_memory, m.grad)
    assert set(params) == set(layer.grads)
    for name, grad in layer.grads.items():
        assert_close(grad, params[name].grad)
    assert np.all(layer.weights[1, :, 2:] == 0.0)  # padding gets no weight


@pytest.mark.parametrize("queries", [T, S + 2], ids=["query-side", "key-side"])
def test_general_scores_on_either_side_match_torch(torch: ModuleType, queries: int) -> None:
    # forward reads general scores on the query side when there are fewer queries than
    # memory steps, else through the prepared keys: both against the same oracle.
    layer = make("general", 6)
    rng = np.random.default_rng(4)
    query = rng.standard_normal((B, queries, Q))
    memory = rng.standard_normal((B, S, 6))
    grad_context = rng.standard_normal((B, queries, 6))
    context = layer.forward(query, memory, LENGTHS)
    grad_query, grad_memory = layer.backward(grad_context)
    t_context, _, q, m, params = torch_attention(torch, layer, query, memory, LENGTHS)
    t_context.backward(torch.tensor(grad_context))
    assert_close(context, t_context)
    assert_close(grad_query, q.grad)
    assert_close(grad_memory, m.grad)
    assert_close(layer.grads["keys.weight"], params["keys.weight"].grad)


def test_attend_without_keys_equals_attend_with_them() -> None:
    layer = make("general", 6)
    query, memory, grad_context = problem(6, seed=5)
    mask = np.arange(S)[None, :] < LENGTHS[:, None]
    results = []
    for keys in (layer.prepare(memory), None):
        layer.zero_grad()
        context, weights, cache = layer.attend(query, keys, memory, mask)
        grad_query, grad_keys, grad_memory = layer.attend_backward(grad_context, cache)
        if grad_keys is not None:
            grad_memory = grad_memory + layer.prepare_backward(grad_keys)
        results.append((context, weights, grad_query, grad_memory, layer.grads["keys.weight"]))
    for with_keys, without in zip(*results, strict=True):
        assert_close(without, with_keys, tol=1e-12)


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_only_general_attention_reads_without_keys(kind: str) -> None:
    layer = make(kind)
    query, memory, _ = problem()
    with pytest.raises(ValueError, match="keys"):
        layer.attend(query, None, memory, np.ones((B, S), bool))


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_gradients_match_finite_differences(kind: str) -> None:
    layer = make(kind, Q)
    query, memory, grad_context = problem(Q, seed=2)

    def loss() -> float:
        return float(np.sum(layer.forward(query, memory, LENGTHS) * grad_context))

    loss()
    grad_query, grad_memory = layer.backward(grad_context)
    assert_close(grad_query, numerical_gradient(loss, query), tol=1e-7)
    assert_close(grad_memory, numerical_gradient(loss, memory), tol=1e-7)
    for name, param in layer.params.items():
        assert_close(layer.grads[name], numerical_gradient(loss, param), tol=1e-7)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_padding_changes_nothing(kind: str) -> None:
    layer = make(kind, Q)
    query, memory, grad_context = problem(Q, seed=3)
    context = layer.forward(query, memory, LENGTHS)
    grad_query, grad_memory = layer.backward(grad_context)
    row = 1  # length 2: its steps 2.. are padding
    garbage = memory.copy()
    garbage[row, 2:] = 1e3
    assert_close(layer.forward(query, garbage, LENGTHS), context, tol=1e-13)
    alone = layer.forward(query[row : row + 1], memory[row : row + 1, :2], LENGTHS[row : row + 1])
    assert_close(alone, context[row : row + 1], tol=1e-13)
    alone_q, alone_m = layer.backward(grad_context[row : row + 1])
    assert_close(alone_q, grad_query[row : row + 1], tol=1e-13)
    assert_close(alone_m, grad_memory[row : row + 1, :2], tol=1e-13)
    assert np.all(grad_memory[row, 2:] == 0.0)


def test_dot_needs_equal_sizes_and_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="query_size == memory_size"):
        Attention("dot", 4, 6)
    with pytest.raises(ValueError, match="kind"):
        Attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="lengths"):
        make("dot").forward(*problem()[:2], np.array([5, 0, 3]))
