"""Beam-search decoding speed: rnnkit's ``beam_search`` against a plain eager PyTorch twin.

The twin is the same encoder-decoder (``rnnkit.models.seq2seq``'s equations) written with
``torch.nn`` modules that take the rnnkit model's state dict unchanged, and a batched beam
search written the ordinary torch way: every hypothesis of every input is a row of one
batch; per step, ``topk`` of the ``K * V`` candidates of each input, the ones that chose the
end token (or hit the length limit) leave the beam finished, the live ones fill the slots,
and an input stops when no live hypothesis can beat its best finished one (alpha = 0:
log-probabilities only fall). Those are the rules of ``rnnkit.models.beam_search`` with
``nbest = 1``, so both sides return the same best outputs up to float round-off.

Both sides decode the same words in the same length-sorted batches, on the same threads,
timed alternately (``benchmarks.timing.time_interleaved``); words per second is the number
of words over the median time of one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.data.length_buckets import pad_batch, sorted_batches
from rnnkit.data.parallel_batches import PAD_ID
from rnnkit.models.beam_search import beam_search, length_limits
from rnnkit.models.seq2seq import Seq2Seq
from rnnkit.models.seq2seq_parts import reverse_within_lengths

CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


class TorchSeq2Seq(torch.nn.Module):
    """The torch twin of a ``Seq2Seq`` (no dropout at decoding), holding MODEL's weights.

    Args:
        model: the rnnkit model whose architecture and weights to copy.
    """

    def __init__(self, model: Seq2Seq) -> None:
        super().__init__()
        self.model = model
        E, H, L, M = model.embedding_size, model.hidden_size, model.num_layers, model.memory_size
        cell = CELLS[model.cell]
        self.source_embedding = torch.nn.Embedding(model.source_vocab_size, E)
        self.encoder = cell(E, H, L, bidirectional=model.bidirectional)
        if model.bridge_linear:
            self.bridge_h = torch.nn.Linear(M, H)
            if model.cell == "lstm":
                self.bridge_c = torch.nn.Linear(M, H)
        self.target_embedding = torch.nn.Embedding(model.target_vocab_size, E)
        feed = H if model.input_feeding else 0
        self.decoder = cell(E + model.summary_size + feed, H, L)
        self.keys = self.query = self.score = None
        if model.attention_kind in ("general", "additive"):
            A = model.attention.attention_size
            self.keys = torch.nn.Linear(M, A if model.attention_kind == "additive" else H, False)
        if model.attention_kind == "additive":
            self.query = torch.nn.Linear(H, model.attention.attention_size, bias=False)
            self.score = torch.nn.Linear(model.attention.attention_size, 1, bias=False)
        if model.attention_kind != "none":
            self.combine = torch.nn.Linear(M + H, H, bias=False)
        self.output = torch.nn.Linear(model.output_input_size, model.target_vocab_size)
        state = {
            name.replace("attention.", ""): torch.from_numpy(np.array(value, dtype=np.float32))
            for name, value in model.state_dict().items()
        }
        self.load_state_dict(state, strict=True)
        self.eval()

    def encode(self, src: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
        """Memory ``(B, S, M)``, keys, mask, summary and the decoder's start state."""
        model = self.model
        if model.reverse_source:
            src = reverse_within_lengths(src, lengths)
        S, L, D = src.shape[1], model.num_layers, model.directions
        embedded = self.source_embedding(torch.from_numpy(np.ascontiguousarray(src.T)))
        length_tensor = torch.from_numpy(lengths)
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            embedded, length_tensor, enforce_sorted=False
        )
        output, final = self.encoder(packed)
        output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=S)
        memory = output.transpose(0, 1).contiguous()
        finals = final if isinstance(final, tuple) else (final,)
        B = memory.shape[0]
        if model.bridge_kind == "zero":
            state = tuple(torch.zeros_like(f[:L]) for f in finals)
        elif model.bridge_linear:
            layers = [self.bridge_h, self.bridge_c] if model.cell == "lstm" else [self.bridge_h]
            state = tuple(
                torch.tanh(layer(f.reshape(L, D, B, -1).transpose(1, 2).reshape(L, B, -1)))
                for layer, f in zip(layers, finals, strict=True)
            )
        else:
            state = tuple(finals)
        summary = torch.cat(list(finals[0][-D:]), dim=1) if model.peeky else None
        keys = memory if self.keys is None else self.keys(memory)
        mask = torch.arange(S)[None, :] < length_tensor[:, None]
        feed = torch.zeros(B, model.hidden_size) if model.input_feeding else None
        return {"memory": memory, "keys": keys, "mask": mask, "summary": summary,
                "state": state, "feed": feed}  # fmt: skip

    def step(self, tokens: torch.Tensor, run: dict[str, Any]) -> torch.Tensor:
        """Log-probabilities ``(N, V)`` of the next token; RUN's state moves on a step."""
        model = self.model
        parts = [self.target_embedding(tokens)]
        if run["summary"] is not None:
            parts.append(run["summary"])
        if run["feed"] is not None:
            parts.append(run["feed"])
        state = run["state"] if model.cell == "lstm" else run["state"][0]
        h, state = self.decoder(torch.cat(parts, dim=-1)[None], state)
        run["state"] = state if isinstance(state, tuple) else (state,)
        h = h[0]
        if model.attention_kind != "none":
            if self.query is not None:
                hidden = torch.tanh(self.query(h)[:, None, :] + run["keys"])
                scores = self.score(hidden)[..., 0]
            else:
                scores = torch.bmm(run["keys"], h[:, :, None])[..., 0]
            weights = torch.softmax(scores.masked_fill(~run["mask"], float("-inf")), dim=-1)
            context = torch.bmm(weights[:, None, :], run["memory"])[:, 0]
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))
            if run["feed"] is not None:
                run["feed"] = h
        if run["summary"] is not None:
            h = torch.cat([h, run["summary"]], dim=-1)
        return torch.log_softmax(self.output(h), dim=-1)

    @staticmethod
    def select(run: dict[str, Any], rows: torch.Tensor) -> dict[str, Any]:
        """RUN's rows ``rows`` (repeated as often as listed)."""
        selected = {k: None if v is None else v[rows] for k, v in run.items() if k != "state"}
        selected["state"] = tuple(s[:, rows] for s in run["state"])
        return selected

    @torch.no_grad()
    def beam_search(
        self, src: np.ndarray, lengths: np.ndarray, K: int, max_length_ratio: float
    ) -> list[list[int]]:
        """The best output of each padded source row (alpha = 0, nbest = 1)."""
        model = self.model
        limits = torch.from_numpy(length_limits(lengths, max_length_ratio, None))
        B = len(lengths)
        run = self.select(self.encode(src, lengths), torch.arange(B).repeat_interleave(K))
        inputs = torch.arange(B)
        tokens = torch.full((B * K,), model.bos_id, dtype=torch.long)
        scores = torch.full((B, K), float("-inf"))
        scores[:, 0] = 0.0
        history = torch.zeros((B, K, 0), dtype=torch.long)
        best = torch.full((B,), float("-inf"))
        outputs: list[list[int]] = [[] for _ in range(B)]
        step = 0
        while inputs.numel():
            log_probs = self.step(tokens, run)
            log_probs[:, [model.pad_id, model.bos_id]] = float("-inf")
            A, V = inputs.numel(), log_probs.shape[1]
            candidates = (scores[:, :, None] + log_probs.view(A, K, V)).view(A, K * V)
            top, index = candidates.topk(K, dim=1)
            slots, chosen = index // V, index % V
            history = torch.cat(
                [history.gather(1, slots[:, :, None].expand(-1, -1, history.shape[2])),
                 chosen[:, :, None]], dim=2,
            )  # fmt: skip
            step += 1
            real = torch.isfinite(top)
            at_limit = (step >= limits[inputs])[:, None]
            ending = real & ((chosen == model.eos_id) | at_limit)
            ended_scores = torch.where(ending, top, float("-inf"))
            found, rank = ended_scores.max(dim=1)
            for a in torch.nonzero(found > best[inputs]).flatten().tolist():
                source = int(inputs[a])
                best[source] = found[a]
                tokens_found = history[a, rank[a]].tolist()
                ended = tokens_found[-1] == model.eos_id
                outputs[source] = tokens_found[:-1] if ended else tokens_found
            live = real & ~ending
            order = torch.argsort((~live).to(torch.int8), dim=1, stable=True)
            scores = torch.where(live, top, float("-inf")).gather(1, order)
            best_live = scores[:, 0]
            keep = live.any(dim=1) & ~at_limit[:, 0] & (best_live > best[inputs])
            keep = torch.nonzero(keep).flatten()
            parents = slots.gather(1, order)[keep]
            rows = (keep[:, None] * K + parents).flatten()
            history = history.gather(1, order[:, :, None].expand(-1, -1, history.shape[2]))[keep]
            tokens = chosen.gather(1, order)[keep].flatten()
            scores, inputs = scores[keep], inputs[keep]
            run = self.select(run, rows)
        return outputs


def decode_all(
    search: Callable[[np.ndarray, np.ndarray], list[list[int]]],
    sources: Sequence[np.ndarray],
    batch_size: int,
) -> list[list[int]]:
    """The best output of every source, SEARCH run on length-sorted padded batches."""
    results: list[list[int]] = [[] for _ in sources]
    for group in sorted_batches([len(s) for s in sources], batch_size):
        src, lengths = pad_batch([sources[i] for i in group], PAD_ID)
        for row, tokens in zip(group, search(src, lengths), strict=True):
            results[row] = tokens
    return results


def rnnkit_search(model: Seq2Seq, K: int, ratio: float) -> Callable:
    """rnnkit's ``beam_search`` of one batch, best output tokens per row."""

    def search(src: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
        return [found[0].tokens for found in beam_search(model, src, lengths, K, 0.0, 1, ratio)]

    return search


def torch_search(twin: TorchSeq2Seq, K: int, ratio: float) -> Callable:
    """The twin's beam search of one batch."""
    return lambda src, lengths: twin.beam_search(src, lengths, K, ratio)
