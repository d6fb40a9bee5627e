"""Global attention over a padded memory: Luong's dot and general scores, Bahdanau's additive.

A decoder state ``q_t`` (the query, ``(B, T, Q)``: T queries per row at once, or T = 1 for a
step) reads the encoder's outputs ``m_s`` (the memory, ``(B, S, M)``) of a row whose source
has ``n`` real steps (``lengths``); positions ``s >= n`` are padding and get weight zero::

    keys     k_s = m_s                        dot       (Q = M)
             k_s = W_a m_s                    general   (``keys.weight`` W_a: (Q, M))
             k_s = U m_s                      additive  (``keys.weight`` U: (A, M))
    scores   e_ts = q_t . k_s                 dot, general (Luong et al. 2015)
             e_ts = v . tanh(W q_t + k_s)     additive (Bahdanau et al. 2015)
                                              (``query.weight`` W: (A, Q), ``score.weight`` v)
    weights  a_ts = exp(e_ts) / sum_{j < n} exp(e_tj)    for s < n, 0 for s >= n
    context  c_t  = sum_s a_ts m_s            (B, T, M)

Backward, for ``g_t = dL/dc_t``::

    dL/da_ts = g_t . m_s            dL/dm_s += sum_t a_ts g_t
    dL/de_ts = a_ts (dL/da_ts - sum_j a_tj dL/da_tj)          (zero at padding)
    dot, general:  dL/dq_t = sum_s dL/de_ts k_s,   dL/dk_s = sum_t dL/de_ts q_t
    additive:      z_ts = tanh(W q_t + k_s),  dz_ts = dL/de_ts v (1 - z_ts^2)
                   dL/dv += sum_ts dL/de_ts z_ts,  dL/dW += sum_t (sum_s dz_ts) q_t^T,
                   dL/dq_t = W^T sum_s dz_ts,  dL/dk_s = sum_t dz_ts
    keys:          general, additive: dL/dW_a (or U) += sum_s dL/dk_s m_s^T,
                   dL/dm_s += W_a^T dL/dk_s

The keys depend on the memory only, so a decoder computes them once (``prepare``) and
attends with each step's query (``attend``); ``forward``/``backward`` do both for one call.
The weights of the last ``forward`` stay in ``weights`` for inspection.

General scores can be read from either side, ``q_t . (W_a m_s) = (W_a^T q_t) . m_s``. With
all T queries of a sequence at once and fewer queries than source steps (T < S), projecting
the queries, ``p_t = W_a^T q_t`` ``(B, T, M)``, costs T/S of projecting the memory: ``attend``
does so when it is given no keys. Backward then, for ``dL/de_ts``::

    dL/dp_t = sum_s dL/de_ts m_s,   dL/dm_s += sum_t dL/de_ts p_t,
    dL/dq_t = W_a dL/dp_t,          dL/dW_a += sum_t q_t (dL/dp_t)^T
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype, check_sizes, make_rng
from rnnkit.nn.linear import Linear
from rnnkit.nn.products import flat_matmul, matmul

ATTENTION_KINDS = ("dot", "general", "additive")


@dataclass
class AttentionCache:
    """What ``attend_backward`` needs from one ``attend`` call."""

    query: np.ndarray  # (B, T, Q)
    keys: np.ndarray | None  # (B, S, Q) or (B, S, A); None: general, read on the query side
    projected: np.ndarray | None  # the query side's W_a^T q_t (B, T, M)
    memory: np.ndarray  # (B, S, M)
    weights: np.ndarray  # (B, T, S)
    hidden: np.ndarray | None  # additive: z (B, T, S, A)


def source_mask(lengths: Any, batch: int, steps: int) -> np.ndarray:
    """``(B, S)`` booleans, True at the real (unpadded) steps ``s < lengths[b]``."""
    lengths = np.asarray(lengths)
    if lengths.shape != (batch,):
        raise ValueError(f"lengths: expected shape ({batch},), got {lengths.shape}")
    if np.any(lengths < 1) or np.any(lengths > steps):
        raise ValueError(f"lengths: expected values in [1, {steps}], got {lengths.tolist()}")
    return np.arange(steps)[None, :] < lengths[:, None]


def masked_softmax(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Softmax of ``scores`` ``(B, T, S)`` over ``S`` where ``mask`` ``(B, S)`` is True;
    0 elsewhere."""
    valid = mask[:, None, :]
    shifted = np.where(valid, scores, -np.inf)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    weights = np.where(valid, np.exp(shifted), 0.0)
    return weights / weights.sum(axis=-1, keepdims=True)


class Attention(Layer):
    """Attention of ``kind`` dot, general or additive; see the module docstring.

    Args:
        kind: ``"dot"``, ``"general"`` or ``"additive"``.
        query_size: ``Q``, the decoder state's size.
        memory_size: ``M``, the encoder output's size (dot needs ``M == Q``).
        attention_size: ``A`` of the additive score (default ``Q``).
    """

    def __init__(
        self,
        kind: str,
        query_size: int,
        memory_size: int,
        attention_size: int | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"kind: expected one of {', '.join(ATTENTION_KINDS)}, got {kind!r}")
        attention_size = query_size if attention_size is None else attention_size
        check_sizes(query_size=query_size, memory_size=memory_size, attention_size=attention_size)
        if kind == "dot" and query_size != memory_size:
            raise ValueError(
                f"kind: dot attention needs query_size == memory_size, got {query_size} and "
                f"{memory_size} (general or additive attention projects the memory)"
            )
        self.kind = kind
        self.query_size, self.memory_size = int(query_size), int(memory_size)
        self.attention_size = int(attention_size)
        self.dtype = check_dtype(dtype)
        rng = make_rng(rng)
        if kind == "general":
            self.add_layer("keys", Linear(memory_size, query_size, False, dtype, rng))
        elif kind == "additive":
            self.add_layer("query", Linear(query_size, attention_size, False, dtype, rng))
            self.add_layer("keys", Linear(memory_size, attention_size, False, dtype, rng))
            self.add_layer("score", Linear(attention_size, 1, False, dtype, rng))
        self.weights: np.ndarray | None = None  # (B, T, S) of the last forward
        self._cache: tuple[AttentionCache, np.ndarray] | None = None

    def reads_query_side(self, queries: int, steps: int) -> bool:
        """Whether ``queries`` queries at once over ``steps`` memory steps read general
        scores on the query side (cheaper when there are fewer queries: module docstring)."""
        return self.kind == "general" and queries < steps

    # -- the keys: once per memory ------------------------------------------------------------

    def prepare(self, memory: np.ndarray) -> np.ndarray:
        """The keys ``(B, S, Q)`` (additive: ``(B, S, A)``) of ``memory`` ``(B, S, M)``."""
        memory = np.asarray(memory, dtype=self.dtype)
        if memory.ndim != 3 or memory.shape[-1] != self.memory_size:
            raise ValueError(
                f"memory: expected shape (batch, steps, {self.memory_size}), got {memory.shape}"
            )
        return memory if self.kind == "dot" else self.keys.forward(memory)

    def prepare_backward(self, grad_keys: np.ndarray) -> np.ndarray:
        """``dL/dmemory`` through the keys of the last ``prepare``; adds the key weights' grads."""
        return grad_keys if self.kind == "dot" else self.keys.backward(grad_keys)

    # -- one attention read -------------------------------------------------------------------

    def attend(
        self,
        query: np.ndarray,
        keys: np.ndarray,
        memory: np.ndarray,
        mask: np.ndarray,
        keep_cache: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, AttentionCache | None]:
        """``(context (B, T, M), weights (B, T, S), cache)`` for ``query`` ``(B, T, Q)``.

        ``mask`` ``(B, S)`` is True at real source steps (``source_mask``). ``keys`` None
        (general attention only): the scores are read on the query side, ``(W_a^T q_t) . m_s``.
        """
        query = np.asarray(query, dtype=self.dtype)
        if query.ndim != 3 or query.shape[-1] != self.query_size:
            raise ValueError(
                f"query: expected shape (batch, steps, {self.query_size}), got {query.shape}"
            )
        if keys is None and self.kind != "general":
            raise ValueError(f"keys: {self.kind} attention needs the keys of prepare(memory)")
        hidden = projected = None
        if keys is None:
            projected = flat_matmul(query, self.keys.params["weight"])  # (B, T, M)
            scores = projected @ memory.transpose(0, 2, 1)
        elif self.kind == "additive":
            projected = flat_matmul(query, self.query.params["weight"].T)  # (B, T, A)
            hidden = np.tanh(projected[:, :, None, :] + keys[:, None, :, :])  # (B, T, S, A)
            scores = hidden @ self.score.params["weight"][0]
        else:
            scores = query @ keys.transpose(0, 2, 1)
        weights = masked_softmax(scores, mask)
        context = weights @ memory
        cache = (
            AttentionCache(query, keys, projected, memory, weights, hidden) if keep_cache else None
        )
        return context, weights, cache

    def attend_backward(
        self, grad_context: np.ndarray, cache: AttentionCache
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """``(dL/dquery, dL/dkeys, dL/dmemory)`` of one ``attend``, the last without the keys'
        share (``prepare_backward`` adds that); the score weights' grads are added. Read on
        the query side, there are no keys (None) and the memory's gradient is whole."""
        weights, memory = cache.weights, cache.memory
        grad_memory = weights.transpose(0, 2, 1) @ grad_context  # (B, S, M)
        grad_weights = grad_context @ memory.transpose(0, 2, 1)  # (B, T, S)
        grad_scores = weights * (grad_weights - (weights * grad_weights).sum(-1, keepdims=True))
        if cache.keys is None:
            Q, M = self.query_size, self.memory_size
            grad_projected = grad_scores @ memory  # (B, T, M)
            grad_memory += grad_scores.transpose(0, 2, 1) @ cache.projected
            matmul(
                cache.query.reshape(-1, Q).T, grad_projected.reshape(-1, M),
                out=self.keys.grads["weight"], accumulate=True,
            )  # fmt: skip
            return flat_matmul(grad_projected, self.keys.params["weight"].T), None, grad_memory
        if self.kind != "additive":
            grad_query = grad_scores @ cache.keys
            grad_keys = grad_scores.transpose(0, 2, 1) @ cache.query
            return grad_query, grad_keys, grad_memory
        hidden, v = cache.hidden, self.score.params["weight"][0]
        self.score.grads["weight"][0] += np.einsum("btsa,bts->a", hidden, grad_scores)
        grad_hidden = grad_scores[..., None] * v * (1.0 - hidden * hidden)
        grad_projected = grad_hidden.sum(axis=2)  # (B, T, A)
        grad_keys = grad_hidden.sum(axis=1)  # (B, S, A)
        A, Q = self.attention_size, self.query_size
        matmul(
            grad_projected.reshape(-1, A).T, cache.query.reshape(-1, Q),
            out=self.query.grads["weight"], accumulate=True,
        )  # fmt: skip
        return flat_matmul(grad_projected, self.query.params["weight"]), grad_keys, grad_memory

    # -- the Layer contract: both at once -----------------------------------------------------

    def forward(self, query: np.ndarray, memory: np.ndarray, lengths: Any) -> np.ndarray:
        """Context ``(B, T, M)`` of ``query`` ``(B, T, Q)`` over ``memory`` ``(B, S, M)``
        with ``lengths`` ``(B,)`` real steps per row; ``weights`` holds ``(B, T, S)``."""
        memory = np.asarray(memory, dtype=self.dtype)
        query_side = self.reads_query_side(np.shape(query)[1], memory.shape[1])
        keys = None if query_side else self.prepare(memory)
        mask = source_mask(lengths, memory.shape[0], memory.shape[1])
        context, self.weights, cache = self.attend(query, keys, memory, mask, self.training)
        self._cache = (cache, keys) if self.training else None
        return context

    def backward(self, grad_context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(dL/dquery, dL/dmemory)``; the parameters' gradients are added."""
        if self._cache is None:
            raise RuntimeError("backward: call forward in training mode first, once per backward")
        cache, _ = self._cache
        self._cache = None
        grad_context = np.asarray(grad_context, dtype=self.dtype)
        if grad_context.shape != cache.weights.shape[:2] + (self.memory_size,):
            raise ValueError(
                f"grad_context: expected shape {cache.weights.shape[:2] + (self.memory_size,)}, "
                f"got {grad_context.shape}"
            )
        grad_query, grad_keys, grad_memory = self.attend_backward(grad_context, cache)
        if grad_keys is None:
            return grad_query, grad_memory
        return grad_query, grad_memory + self.prepare_backward(grad_keys)
