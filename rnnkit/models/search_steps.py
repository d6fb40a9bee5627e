"""Decoder steps of a ``Seq2Seq`` for search, with what a search does not change made once.

``Seq2Seq.step`` is the decoder of the module docstring of ``rnnkit.models.seq2seq``, one
token per row. During a search the weights and the encoded sources stay fixed, so three of
its products depend on fewer things than a row-step, and are made once here:

- layer 0's input side of every target token (``table``, ``(V, G H)``)::

      W_ih [E_v ; s ; h~] + b = (W_ie E_v + b) + W_is s + W_if h~      b = b_ih + b_hh
                                 table[v]       per source  per step  (GRU: b_hn stays inside)

  so a step looks ``table[y]`` up instead of multiplying ``(N, E)`` by ``(E, G H)``; the
  peeky summary's share ``W_is s`` is one product per source (``summary_gates``).
- attention's combination, ``W_c = [W_cm  W_ch]`` split at the memory's width M::

      W_c [c_t ; h_t] = W_cm sum_s a_ts m_s + W_ch h_t = sum_s a_ts P_s + W_ch h_t,
      P_s = W_cm m_s                                           (B, S, H), once per source

  so a step reads ``a_t P`` (``2 S H`` flops a row) instead of forming ``c_t`` (``2 S M``)
  and multiplying it by ``W_cm`` (``2 M H``). The keys ``W_a m_s`` were made once already
  (``Attention.prepare``).
- the output layer's peeky share ``W_os s``, once per source (``summary_logits``).

The recurrent layers run in the C loops (``rnnkit.nn.row_step``), each step gathering the
previous state from the rows the hypotheses continue (``parents``), so a beam's reordering
costs one gather per state instead of a copy and another inside the layer. Float32 models
whose hidden size the C loops take only (``applies``); others step with ``Seq2Seq.step``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_parts import EncodedSource
from rnnkit.nn import dispatch
from rnnkit.nn.attention import masked_softmax
from rnnkit.nn.losses import log_softmax
from rnnkit.nn.row_step import RowStepper


@dataclass
class SearchState:
    """The decoder rows' state: per layer ``(h, c)`` (or ``(h,)``), each ``(N, H)``, and the
    fed ``h~`` ``(N, H)`` with input feeding (else None)."""

    layers: list[tuple[np.ndarray, ...]]
    feed: np.ndarray | None


@dataclass
class PreparedSources:
    """Per source row (``B``): what every step reads. ``group`` decoder rows per source row
    (a beam's K hypotheses), row ``n`` reading source ``n // group``."""

    lengths: np.ndarray  # (B,)
    mask: np.ndarray  # (B, S) True at real steps
    memory: np.ndarray | None  # (B, S, M): additive attention's scores only
    keys: np.ndarray | None  # (B, S, Q) or (B, S, A)
    projected: np.ndarray | None  # P = memory W_cm^T (B, S, H)
    summary_gates: np.ndarray | None  # W_is s (B, G H), peeky
    summary_logits: np.ndarray | None  # W_os s (B, V), peeky
    group: int = 1

    def select(self, rows: np.ndarray) -> PreparedSources:
        """The source rows ``rows``, ``group`` kept."""

        def pick(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x[rows]

        return PreparedSources(
            self.lengths[rows], self.mask[rows], pick(self.memory), pick(self.keys),
            pick(self.projected), pick(self.summary_gates), pick(self.summary_logits), self.group,
        )  # fmt: skip

    def per_row(self, x: np.ndarray) -> np.ndarray:
        """``x`` (one entry per source row) with one entry per decoder row."""
        return x if self.group == 1 else np.repeat(x, self.group, axis=0)


def token_gates(embeddings: np.ndarray, weight_ih: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``table[v] = W_ie E_v + b`` ``(V, G H)``: layer 0's input side of every token, where
    ``W_ie`` is the first ``E`` columns of ``weight_ih`` ``(G H, I)`` and ``embeddings`` is
    ``(V, E)``."""
    return np.ascontiguousarray(embeddings @ weight_ih[:, : embeddings.shape[1]].T + bias)


def projected_memory(memory: np.ndarray, combine_weight: np.ndarray) -> np.ndarray:
    """``P_s = W_cm m_s`` ``(B, S, H)`` of ``memory`` ``(B, S, M)``, where ``W_cm`` is the
    first ``M`` columns of the combination's ``(H, M + H)`` weight."""
    B, S, M = memory.shape
    return (memory.reshape(B * S, M) @ combine_weight[:, :M].T).reshape(B, S, -1)


class SearchSteps:
    """A ``Seq2Seq``'s decoder prepared for stepping during a search (module docstring).

    Args:
        model: a float32 ``Seq2Seq`` in evaluation mode whose weights stay fixed meanwhile.
    """

    def __init__(self, model: Seq2Seq) -> None:
        self.model = model
        E, H, M = model.embedding_size, model.hidden_size, model.memory_size
        self.layers = [RowStepper(model.decoder, index) for index in range(model.num_layers)]
        first = self.layers[0]
        # table[v] = W_ie E_v + b (module docstring)
        self.table = token_gates(
            model.target_embedding.params["weight"], first.weight_ih, first.bias
        )
        S = model.summary_size
        self.summary_weight = first.weight_ih[:, E : E + S] if S else None  # W_is
        self.feed_weight = None  # W_if^T
        if model.input_feeding:
            self.feed_weight = np.ascontiguousarray(first.weight_ih[:, E + S :].T)
        self.attention = model.attention_kind != "none"
        if self.attention:
            self.combine = model.combine.params["weight"]
            self.combine_hidden = np.ascontiguousarray(self.combine[:, M:].T)  # W_ch^T
        output = model.output.params
        self.output_weight = np.ascontiguousarray(output["weight"][:, :H].T)  # W_oh^T
        self.output_summary = output["weight"][:, H:] if S else None  # W_os
        self.output_bias = (
            output["bias"] if "bias" in output else np.zeros(model.target_vocab_size, np.float32)
        )

    @staticmethod
    def applies(model: Seq2Seq) -> bool:
        """Whether the model steps here: float32, a hidden size the C loops take."""
        return dispatch.runs_in_c(model.dtype, model.hidden_size)

    def prepare(self, encoded: EncodedSource) -> PreparedSources:
        """The per-source terms of ``encoded`` (its ``group`` kept)."""
        projected = projected_memory(encoded.memory, self.combine) if self.attention else None
        summary_gates = summary_logits = None
        if encoded.summary is not None:
            summary_gates = encoded.summary @ self.summary_weight.T
            summary_logits = encoded.summary @ self.output_summary.T
        additive = self.model.attention_kind == "additive"
        return PreparedSources(
            encoded.lengths, encoded.mask, encoded.memory if additive else None, encoded.keys,
            projected, summary_gates, summary_logits, encoded.group,
        )  # fmt: skip

    def start(self, encoded: EncodedSource) -> SearchState:
        """The decoder's state before its first step, one row per decoder row."""
        layers = []
        for index in range(self.model.num_layers):
            layers.append(tuple(encoded.per_row(s[index]) for s in encoded.state))
        rows = encoded.memory.shape[0] * encoded.group
        feed = np.zeros((rows, self.model.hidden_size), np.float32)
        return SearchState(layers, feed if self.model.input_feeding else None)

    def step(
        self,
        tokens: np.ndarray,
        state: SearchState,
        sources: PreparedSources,
        parents: np.ndarray | None = None,
    ) -> tuple[np.ndarray, SearchState, np.ndarray | None]:
        """Feed ``tokens`` ``(N,)``, row ``n`` continuing row ``parents[n]`` of ``state``:
        ``(log-probabilities (N, V), new state, attention weights (N, S) or None)``, as
        ``Seq2Seq.step`` (the weights in the order the encoder read the source)."""
        gates = np.take(self.table, tokens, axis=0)
        if sources.summary_gates is not None:
            gates += sources.per_row(sources.summary_gates)
        if state.feed is not None:
            feed = state.feed if parents is None else state.feed[parents]
            gates += feed @ self.feed_weight
        new_layers = [self.layers[0].step(gates, state.layers[0], parents)]
        for layer, previous in zip(self.layers[1:], state.layers[1:], strict=True):
            x = new_layers[-1][0]
            if layer.shares_parents:
                new_layers.append(layer.step_shared(x, previous, parents))
                continue
            gates = x @ layer.weight_ih.T
            gates += layer.bias
            new_layers.append(layer.step(gates, previous, parents))
        top = new_layers[-1][0]
        attentional, weights = top, None
        if self.attention:
            attentional, weights = self._attend(top, sources)
        logits = attentional @ self.output_weight
        logits += self.output_bias
        if sources.summary_logits is not None:
            logits += sources.per_row(sources.summary_logits)
        feed = attentional if self.model.input_feeding else None
        return log_softmax(logits, axis=1), SearchState(new_layers, feed), weights

    def _attend(self, top: np.ndarray, sources: PreparedSources) -> tuple[np.ndarray, np.ndarray]:
        """``(h~ (N, H), weights (N, S))`` for the decoder's top outputs ``top`` ``(N, H)``."""
        group = sources.group
        query = top.reshape(-1, group, top.shape[-1])  # a source's GROUP rows ask together
        if self.model.attention_kind == "additive":
            _, weights, _ = self.model.attention.attend(
                query, sources.keys, sources.memory, sources.mask, False
            )
        else:
            weights = masked_softmax(query @ sources.keys.transpose(0, 2, 1), sources.mask)
        attentional = (weights @ sources.projected).reshape(top.shape)
        attentional += top @ self.combine_hidden
        np.tanh(attentional, out=attentional)
        return attentional, weights.reshape(top.shape[0], -1)
