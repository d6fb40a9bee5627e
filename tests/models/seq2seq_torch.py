"""The encoder-decoder of ``rnnkit.models.seq2seq`` written in torch, for the oracle tests.

The torch module is a ``ModuleDict`` under the model's attribute names, so the model's
state dict loads into it with ``strict=True``; the forward pass is the module docstring's
equations, stepping the decoder one token at a time (as autograd needs nothing else).
Helpers take the torch module as an argument, so this file imports without torch.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_parts import reverse_within_lengths


def torch_layers(torch: ModuleType, model: Seq2Seq) -> Any:
    nn = torch.nn
    cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[model.cell]
    E, H, L, M = model.embedding_size, model.hidden_size, model.num_layers, model.memory_size
    layers = nn.ModuleDict()
    layers["source_embedding"] = nn.Embedding(model.source_vocab_size, E, model.pad_id)
    layers["encoder"] = cell(E, H, L, bidirectional=model.bidirectional)
    if model.bridge_linear:
        layers["bridge_h"] = nn.Linear(M, H)
        if model.cell == "lstm":
            layers["bridge_c"] = nn.Linear(M, H)
    layers["target_embedding"] = nn.Embedding(model.target_vocab_size, E, model.pad_id)
    feed = H if model.input_feeding else 0
    layers["decoder"] = cell(E + model.summary_size + feed, H, L)
    if model.attention_kind != "none":
        attention = nn.Module()  # not a ModuleDict: that has a method named keys
        A = model.attention.attention_size
        if model.attention_kind == "general":
            attention.keys = nn.Linear(M, H, bias=False)
        elif model.attention_kind == "additive":
            attention.query = nn.Linear(H, A, bias=False)
            attention.keys = nn.Linear(M, A, bias=False)
            attention.score = nn.Linear(A, 1, bias=False)
        layers["attention"] = attention
        layers["combine"] = nn.Linear(M + H, H, bias=False)
    layers["output"] = nn.Linear(model.output_input_size, model.target_vocab_size)
    if model.share_vocabulary:
        layers["target_embedding"].weight = layers["source_embedding"].weight
    if model.tie_embeddings:
        layers["output"].weight = layers["target_embedding"].weight
    layers.double()
    layers.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return layers


def torch_loss(
    torch: ModuleType,
    model: Seq2Seq,
    layers: Any,
    batch: tuple[np.ndarray, ...],
    sample: np.ndarray | None = None,
    label_smoothing: float = 0.0,
) -> Any:
    """Mean cross-entropy over the real target tokens; ``sample[t, b]``: feed the argmax."""
    src, src_lengths, tgt_in, tgt_out, tgt_lengths = batch
    if model.reverse_source:
        src = reverse_within_lengths(src, src_lengths)
    S, D, L = src.shape[1], model.directions, model.num_layers
    lengths = torch.from_numpy(src_lengths)
    embedded = layers["source_embedding"](torch.from_numpy(np.ascontiguousarray(src.T)))
    packed = torch.nn.utils.rnn.pack_padded_sequence(embedded, lengths, enforce_sorted=False)
    output, final = layers["encoder"](packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=S)
    memory = output.transpose(0, 1)  # (B, S, M)
    finals = final if isinstance(final, tuple) else (final,)
    B = memory.shape[0]

    def per_layer(x: Any) -> Any:
        return x.reshape(L, D, B, -1).transpose(1, 2).reshape(L, B, -1)

    if model.bridge_kind == "zero":
        state = tuple(torch.zeros_like(f[:L]) for f in finals)
    elif model.bridge_linear:
        names = ["bridge_h", "bridge_c"]
        state = tuple(
            torch.tanh(layers[n](per_layer(f))) for n, f in zip(names, finals, strict=False)
        )
    else:
        state = finals
    summary = torch.cat(list(finals[0][-D:]), dim=1) if model.peeky else None
    valid = torch.arange(S)[None, :] < lengths[:, None]

    logits, feed = [], torch.zeros(B, model.hidden_size, dtype=torch.float64)
    for t in range(tgt_in.shape[1]):
        tokens = torch.from_numpy(tgt_in[:, t].copy())
        if sample is not None and t > 0:
            predicted = logits[-1].argmax(dim=-1)
            tokens = torch.where(torch.from_numpy(sample[t]), predicted, tokens)
        parts = [layers["target_embedding"](tokens)]
        parts += [summary] if summary is not None else []
        parts += [feed] if model.input_feeding else []
        h, state = layers["decoder"](torch.cat(parts, dim=-1)[None], _state(model, state))
        state = state if isinstance(state, tuple) else (state,)
        h = h[0]
        if model.attention_kind != "none":
            context = _attend(torch, model, layers["attention"], h, memory, valid)
            h = torch.tanh(layers["combine"](torch.cat([context, h], dim=-1)))
        feed = h
        features = torch.cat([h, summary], dim=-1) if summary is not None else h
        logits.append(layers["output"](features))
    logits = torch.stack(logits)  # (T, B, V)
    real = np.arange(tgt_out.shape[1])[None, :] < tgt_lengths[:, None]
    targets = torch.from_numpy(np.where(real, tgt_out, -100).T.copy())
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), label_smoothing=label_smoothing
    )


def _state(model: Seq2Seq, state: tuple) -> Any:
    return state if model.cell == "lstm" else state[0]


def _attend(torch: ModuleType, model: Seq2Seq, attention: Any, h: Any, memory: Any, valid: Any):
    keys = memory if model.attention_kind == "dot" else attention.keys(memory)
    if model.attention_kind == "additive":
        hidden = torch.tanh(attention.query(h)[:, None, :] + keys)
        scores = attention.score(hidden)[..., 0]
    else:
        scores = (keys @ h[:, :, None])[..., 0]
    weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)
    return (weights[:, None, :] @ memory)[:, 0]
