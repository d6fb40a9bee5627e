"""An encoder-decoder (sequence to sequence) model, with optional attention and peeking.

::

    src (B, S), src_lengths          tgt_in (B, T): <s> y_1 .. y_{n-1}, padded
      -> source_embedding  (S, B, E)         (source reversed within each length if asked)
      -> encoder           (S, B, D*H)       RNN/LSTM/GRU, stacked, D = 2 if bidirectional,
                                             packed lengths; memory m, final states h_n (c_n)
      -> bridge            decoder start     auto: h_n (c_n) as is when D = 1, else linear;
                                             linear: h0_l = tanh(W_b [h_n^fwd_l ; h_n^rev_l] + b)
                                             (c0 likewise with its own weights); zero: zeros
    decoder step t (teacher forcing: y_{t-1} = tgt_in[:, t]):
      x_t   = [E_t y_{t-1} ; s (peeky) ; h~_{t-1} (input feeding, h~_0 = 0)]
      h_t   = decoder(x_t, state)                       stacked, one direction
      h~_t  = tanh(W_c [c_t ; h_t]),  c_t = attention(h_t, m)   (attention; else h~_t = h_t)
      o_t   = dropout([h~_t ; s (peeky)])
      z_t   = W_o o_t + b_o                              logits over the target vocabulary

``s`` is the encoder's summary, the top layer's final ``h`` of each direction, ``(B, D*H)``
(Deep Learning from Scratch 2, ch. 7, "peeky"). ``attention`` is ``rnnkit.nn.attention``
(Luong's dot and general scores, Bahdanau's additive score) inside Luong's global attention,
masked over the source padding. The loss is the mean cross-entropy of ``z_t`` against
``tgt_out`` over the real target tokens (``t < tgt_lengths``). Backward follows the same
path in reverse; every forward has its backward.

Scheduled sampling (Bengio et al. 2015): with ``teacher_forcing = r < 1`` each decoder input
after the first is, independently per row and step with probability ``1 - r``, the model's
own argmax at the previous step instead of the reference token (drawn from the model's
generator; training mode only). No gradient flows through the argmax.

Without input feeding and sampling the decoder runs as one sequence call and the head over
all steps at once; otherwise it steps (``RecurrentSteps``). Both give the same numbers.

Ids: both vocabularies hold ``pad_id``, ``bos_id``, ``eos_id`` (0, 1, 2 by default,
``rnnkit.data.parallel.Vocabulary``). The embeddings' ``pad_id`` rows are zero and get no
gradient; the decoder's padded steps (``t >= tgt_lengths``) add nothing to the loss, and the
encoder never reads the padded source steps, so padding changes no result.

``share_vocabulary`` makes one embedding table serve source and target;
``tie_embeddings`` makes the output layer use the target embedding table (Press & Wolf 2017;
needs ``embedding_size`` equal to the output layer's input size).
Parameter names are those of a torch module with attributes ``source_embedding``,
``encoder``, ``bridge_h``, ``bridge_c``, ``target_embedding``, ``decoder``, ``attention``
(``keys``, ``query``, ``score``), ``combine`` and ``output``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from rnnkit.config import CHANGEABLE, ConfigError, derived, option
from rnnkit.models.configured import Configured
from rnnkit.models.seq2seq_parts import (
    EncodedSource,
    affine,
    affine_backward,
    reverse_within_lengths,
)
from rnnkit.nn import Embedding, Linear, log_softmax, softmax_cross_entropy
from rnnkit.nn.attention import ATTENTION_KINDS, Attention, source_mask
from rnnkit.nn.dropout import dropout_mask
from rnnkit.nn.embedding import EmbeddedTokens, check_indices
from rnnkit.nn.layer import Layer, check_dtype, make_rng
from rnnkit.nn.recurrent import RECURRENT_LAYERS
from rnnkit.nn.recurrent_steps import RecurrentSteps

CELLS = RECURRENT_LAYERS  # by the names the settings use
ATTENTIONS = ("none", *ATTENTION_KINDS)
BRIDGES = ("auto", "linear", "zero")
EMBEDDING_INIT_RANGE = 0.1


@dataclass
class Seq2SeqConfig:
    """The architecture of a ``Seq2Seq``: its constructor's arguments, with defaults."""

    source_vocab_size: int = derived(0, "tokens in the source vocabulary, set from the data")
    target_vocab_size: int = derived(0, "tokens in the target vocabulary, set from the data")
    pad_id: int = derived(0, "the padding token's id in both vocabularies")
    bos_id: int = derived(1, "the start-of-sequence token's id (target)")
    eos_id: int = derived(2, "the end-of-sequence token's id (target)")
    share_vocabulary: bool = option(
        False, "one vocabulary and one embedding table for source and target"
    )
    embedding_size: int = option(64, "size of the token vectors", minimum=1, maximum=1 << 16)
    hidden_size: int = option(
        128, "units per recurrent layer and direction", minimum=1, maximum=1 << 16
    )
    num_layers: int = option(
        1, "stacked recurrent layers (encoder and decoder)", minimum=1, maximum=64
    )
    cell: str = option("lstm", "the recurrent layer", choices=tuple(CELLS))
    bidirectional: bool = option(True, "the encoder reads the source in both directions")
    bridge: str = option(
        "auto",
        "encoder final states -> decoder initial state: as is (auto; linear when "
        "bidirectional), a linear layer and tanh, or zeros",
        choices=BRIDGES,
    )
    attention: str = option("general", "attention over the encoder's outputs", choices=ATTENTIONS)
    input_feeding: bool = option(
        False, "feed the previous attentional state to the next decoder step"
    )
    peeky: bool = option(
        False, "feed the encoder's summary to every decoder step and to the output layer"
    )
    reverse_source: bool = option(False, "read each source sequence backwards")
    tie_embeddings: bool = option(
        False, "the output layer uses the target embedding table (sizes must agree)"
    )
    dropout: float = option(
        0.0, "dropout between layers and before the output layer", minimum=0, below=1
    )
    teacher_forcing: float = option(
        1.0,
        "probability that a decoder input is the reference token rather than the model's "
        "own previous prediction (scheduled sampling below 1)",
        minimum=0,
        maximum=1,
        on_resume=CHANGEABLE,
    )


DEFAULT = Seq2SeqConfig()
CONFIG_FIELDS = frozenset(field.name for field in fields(Seq2SeqConfig))


@dataclass
class DecoderState:
    """Where decoding stands: the decoder's state tuple ``(L, N, H)`` and the fed ``h~``."""

    state: tuple[np.ndarray, ...]
    feed: np.ndarray | None  # (N, H) with input feeding

    def select(self, rows: np.ndarray) -> DecoderState:
        feed = None if self.feed is None else self.feed[rows]
        return DecoderState(tuple(s[:, rows] for s in self.state), feed)


class Seq2Seq(Configured, Layer):
    """Encoder-decoder; see the module docstring. ``dtype`` and ``rng`` as for the layers."""

    config_class = Seq2SeqConfig

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        pad_id: int = DEFAULT.pad_id,
        bos_id: int = DEFAULT.bos_id,
        eos_id: int = DEFAULT.eos_id,
        share_vocabulary: bool = DEFAULT.share_vocabulary,
        embedding_size: int = DEFAULT.embedding_size,
        hidden_size: int = DEFAULT.hidden_size,
        num_layers: int = DEFAULT.num_layers,
        cell: str = DEFAULT.cell,
        bidirectional: bool = DEFAULT.bidirectional,
        bridge: str = DEFAULT.bridge,
        attention: str = DEFAULT.attention,
        input_feeding: bool = DEFAULT.input_feeding,
        peeky: bool = DEFAULT.peeky,
        reverse_source: bool = DEFAULT.reverse_source,
        tie_embeddings: bool = DEFAULT.tie_embeddings,
        dropout: float = DEFAULT.dropout,
        teacher_forcing: float = DEFAULT.teacher_forcing,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        # The constructor's arguments that the config holds, as given (``config()``).
        self._arguments = {k: v for k, v in locals().items() if k in CONFIG_FIELDS}
        super().__init__()
        self._check_choices(cell, bridge, attention, input_feeding, teacher_forcing)
        if attention == "dot" and bidirectional:
            raise ConfigError(
                "attention",
                "dot scores need the encoder's outputs as wide as the decoder's: a "
                "one-direction encoder (bidirectional False), or general or additive "
                "attention, which project them",
                "bidirectional",
            )
        if share_vocabulary and source_vocab_size != target_vocab_size:
            raise ValueError(
                "share_vocabulary: the source and target vocabularies must be one, got sizes "
                f"{source_vocab_size} and {target_vocab_size}"
            )
        for name, value in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= value < min(source_vocab_size, target_vocab_size):
                raise ValueError(f"{name}: expected an id in both vocabularies, got {value}")
        self.source_vocab_size, self.target_vocab_size = (
            int(source_vocab_size),
            int(target_vocab_size),
        )
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.share_vocabulary = bool(share_vocabulary)
        self.embedding_size, self.hidden_size = int(embedding_size), int(hidden_size)
        self.num_layers, self.cell, self.bidirectional = int(num_layers), cell, bool(bidirectional)
        self.bridge_kind, self.attention_kind = bridge, attention
        self.input_feeding, self.peeky = bool(input_feeding), bool(peeky)
        self.reverse_source, self.tie_embeddings = bool(reverse_source), bool(tie_embeddings)
        self.dropout_p, self.teacher_forcing = float(dropout), float(teacher_forcing)
        self.dtype = check_dtype(dtype)
        self.rng = make_rng(rng)
        self.directions = 2 if bidirectional else 1
        H, E = self.hidden_size, self.embedding_size
        M = self.memory_size = self.directions * H
        self.summary_size = M if self.peeky else 0
        self.output_input_size = H + self.summary_size
        if tie_embeddings and self.output_input_size != E:
            raise ConfigError(
                "tie_embeddings",
                f"embedding_size must equal the output layer's input size "
                f"{self.output_input_size}, got {E}",
            )
        self._build(E, H, M, dropout)
        self.steps = RecurrentSteps(self.decoder)
        self.attention_weights: np.ndarray | None = None  # (B, T, S) of the last forward
        self._cache: dict[str, Any] | None = None

    @staticmethod
    def _check_choices(cell, bridge, attention, input_feeding, teacher_forcing) -> None:
        for name, value, choices in (
            ("cell", cell, tuple(CELLS)),
            ("bridge", bridge, BRIDGES),
            ("attention", attention, ATTENTIONS),
        ):
            if value not in choices:
                raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        if input_feeding and attention == "none":
            raise ConfigError("input_feeding", "needs attention (it feeds the attentional state)")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing: expected a ratio in [0, 1], got {teacher_forcing}")

    def _build(self, E: int, H: int, M: int, dropout: float) -> None:
        dtype, rng, pad, layers = self.dtype, self.rng, self.pad_id, self.num_layers
        inter_layer = dropout if layers > 1 else 0.0
        embedding = Embedding(self.source_vocab_size, E, pad, dtype, rng)
        self.add_layer("source_embedding", embedding)
        self.add_layer(
            "encoder",
            CELLS[self.cell](
                E, H, layers, dropout=inter_layer, bidirectional=self.bidirectional,
                dtype=dtype, rng=rng,
            ),
        )  # fmt: skip
        self.bridge_linear = self.bridge_kind == "linear" or (
            self.bridge_kind == "auto" and self.directions == 2
        )
        if self.bridge_linear:
            self.add_layer("bridge_h", Linear(M, H, dtype=dtype, rng=rng))
            if self.cell == "lstm":
                self.add_layer("bridge_c", Linear(M, H, dtype=dtype, rng=rng))
        self.add_layer("target_embedding", Embedding(self.target_vocab_size, E, pad, dtype, rng))
        feed = H if self.input_feeding else 0
        self.add_layer(
            "decoder",
            CELLS[self.cell](
                E + self.summary_size + feed, H, layers, dropout=inter_layer, dtype=dtype, rng=rng
            ),
        )
        if self.attention_kind != "none":
            self.add_layer("attention", Attention(self.attention_kind, H, M, dtype=dtype, rng=rng))
            self.add_layer("combine", Linear(M + H, H, bias=False, dtype=dtype, rng=rng))
        self.add_layer(
            "output", Linear(self.output_input_size, self.target_vocab_size, True, dtype, rng)
        )
        for table in (self.source_embedding, self.target_embedding):
            weight = table.params["weight"]
            weight[...] = rng.uniform(-EMBEDDING_INIT_RANGE, EMBEDDING_INIT_RANGE, weight.shape)
            weight[pad] = 0.0
        if self.share_vocabulary:
            self.tie("target_embedding.weight", "source_embedding.weight")
        if self.tie_embeddings:
            table = "source" if self.share_vocabulary else "target"
            self.tie("output.weight", f"{table}_embedding.weight")

    # -- configuration -----------------------------------------------------------------------

    def config(self) -> Seq2SeqConfig:
        """The architecture; ``Seq2Seq.from_config(model.config())`` rebuilds it."""
        return Seq2SeqConfig(**self._arguments)

    # -- training ----------------------------------------------------------------------------

    def forward(
        self, src: Any, src_lengths: Any, tgt_in: Any, step_by_step: bool = False
    ) -> np.ndarray:
        """Logits ``(B, T, target_vocab_size)`` for padded ``src`` ``(B, S)`` with
        ``src_lengths`` ``(B,)`` and decoder inputs ``tgt_in`` ``(B, T)`` (``<s>`` first).

        ``attention_weights`` then holds ``(B, T, S)``, in the source's own order.
        ``step_by_step`` forces the stepping decoder (the same numbers; for tests).
        """
        tgt_in = np.asarray(tgt_in)
        ratio = self.teacher_forcing if self.training else 1.0
        stepped = self.input_feeding or ratio < 1.0 or step_by_step
        # A whole target at once may read general scores on the query side (rnnkit.nn.attention).
        query_side = (
            not stepped
            and self.attention_kind != "none"
            and self.attention.reads_query_side(tgt_in.shape[-1], np.shape(src)[-1])
        )
        encoded = self.encode(src, src_lengths, prepare_keys=not query_side)
        if tgt_in.ndim != 2 or tgt_in.shape[0] != encoded.memory.shape[0] or tgt_in.size == 0:
            raise ValueError(
                f"tgt_in: expected shape (batch={encoded.memory.shape[0]}, steps), got "
                f"{tgt_in.shape}"
            )
        if stepped:
            logits = self._decode_steps(np.ascontiguousarray(tgt_in.T), encoded, ratio)
        else:
            logits = self._decode_sequence(np.ascontiguousarray(tgt_in.T), encoded)
        return logits.transpose(1, 0, 2)

    def backward(self, grad_logits: np.ndarray) -> None:
        """Add every parameter's gradient, given ``dL/dlogits`` ``(B, T, target_vocab_size)``."""
        cache = self._cache
        if cache is None:
            raise RuntimeError(
                "backward: no forward pass to differentiate; call forward in training mode "
                "(model.train()) first, and only once per backward"
            )
        self._cache = None
        grad_logits = np.asarray(grad_logits, dtype=self.dtype).transpose(1, 0, 2)
        encoded: EncodedSource = cache["encoded"]
        grads = {
            "memory": np.zeros_like(encoded.memory),
            "keys": None if encoded.keys is None else np.zeros_like(encoded.keys),
            "summary": None if encoded.summary is None else np.zeros_like(encoded.summary),
        }
        if cache["stepped"]:
            grad_state = self._decode_steps_backward(grad_logits, cache, grads)
        else:
            grad_state = self._decode_sequence_backward(grad_logits, cache, grads)
        self._encode_backward(cache, grads, grad_state)

    def loss_and_backward(
        self,
        src: Any,
        src_lengths: Any,
        tgt_in: Any,
        tgt_out: Any,
        tgt_lengths: Any,
        label_smoothing: float = 0.0,
    ) -> float:
        """Mean cross-entropy over the real target tokens; the gradients are added.

        ``tgt_out`` ``(B, T)`` holds the tokens to predict (``y_1 .. y_n </s>``), real for
        ``t < tgt_lengths[b]``. ``label_smoothing`` ``eps`` measures it against
        ``(1 - eps) onehot(y_t) + eps / V`` (``softmax_cross_entropy``).
        """
        logits = self.forward(src, src_lengths, tgt_in)
        loss, grad = softmax_cross_entropy(
            logits,
            self._masked_targets(tgt_out, tgt_lengths, logits.shape[:2]),
            ignore_index=-1,
            label_smoothing=label_smoothing,
        )
        self.backward(grad)
        return loss

    def token_losses(
        self, src: Any, src_lengths: Any, tgt_in: Any, tgt_out: Any, tgt_lengths: Any
    ) -> tuple[float, int]:
        """``(summed cross-entropy, number of real target tokens)`` with teacher forcing, in
        evaluation mode (no dropout, no sampling, nothing kept for backward)."""
        was_training = self.training
        self.eval()
        try:
            logits = self.forward(src, src_lengths, tgt_in)
        finally:
            self.train(was_training)
        targets = self._masked_targets(tgt_out, tgt_lengths, logits.shape[:2])
        loss, _ = softmax_cross_entropy(logits, targets, ignore_index=-1, reduction="sum")
        return loss, int(np.count_nonzero(targets >= 0))

    def _masked_targets(self, tgt_out: Any, tgt_lengths: Any, shape: tuple[int, int]) -> np.ndarray:
        tgt_out, lengths = np.asarray(tgt_out), np.asarray(tgt_lengths)
        if tgt_out.shape != shape or lengths.shape != shape[:1]:
            raise ValueError(
                f"tgt_out, tgt_lengths: expected shapes {shape} and {shape[:1]}, got "
                f"{tgt_out.shape} and {lengths.shape}"
            )
        if np.any(lengths < 1) or np.any(lengths > shape[1]):
            raise ValueError(f"tgt_lengths: expected values in [1, {shape[1]}], got {lengths}")
        return np.where(np.arange(shape[1])[None, :] < lengths[:, None], tgt_out, -1)

    # -- encoder -----------------------------------------------------------------------------

    def encode(self, src: Any, src_lengths: Any, prepare_keys: bool = True) -> EncodedSource:
        """Run the encoder and the bridge (kept for backward in training mode); with
        ``prepare_keys`` False, general attention reads its scores on the query side."""
        src, lengths = np.asarray(src), np.asarray(src_lengths)
        if src.ndim != 2 or src.size == 0:
            raise ValueError(f"src: expected a non-empty 2-D array (batch, steps), got {src.shape}")
        batch, steps = src.shape
        mask = source_mask(lengths, batch, steps)
        if self.reverse_source:
            src = reverse_within_lengths(src, lengths)
        ids = np.ascontiguousarray(src.T)
        folded = self._fold(self.source_embedding, ids)
        embedded = folded if folded is not None else self.source_embedding.forward(ids)
        output, final = self.encoder.forward(embedded, None, lengths)
        finals = final if isinstance(final, tuple) else (final,)
        memory = np.ascontiguousarray(output.transpose(1, 0, 2))
        keys = None
        if self.attention_kind != "none" and (prepare_keys or self.attention_kind != "general"):
            keys = self.attention.prepare(memory)
        summary = None
        if self.peeky:
            top = finals[0][-self.directions :]  # (D, B, H)
            summary = np.concatenate(list(top), axis=1)
        state, bridge_inputs = self._bridge(finals, batch)
        encoded = EncodedSource(memory, lengths, mask, keys, summary, state)
        self._cache = (
            {"encoded": encoded, "bridge_inputs": bridge_inputs, "folded": folded is not None}
            if self.training
            else None
        )
        return encoded

    def _fold(
        self, embedding: Embedding, ids: np.ndarray, context: np.ndarray | None = None
    ) -> EmbeddedTokens | None:
        """``EmbeddedTokens`` of ``ids`` (time-major) when the table has no more rows than
        there are ids: the first layer then multiplies the table, not every looked-up row
        (``rnnkit.nn.recurrent``); else None (look the rows up first)."""
        if embedding.num_embeddings > ids.size:
            return None
        check_indices("token ids", ids, embedding.num_embeddings)
        return EmbeddedTokens(embedding.params["weight"], ids, context)

    def _table_backward(self, embedding: Embedding, grad_table: np.ndarray) -> None:
        """Add a folded lookup's table gradient; the padding row gets none."""
        grad_table[self.pad_id] = 0.0
        embedding.grads["weight"] += grad_table

    def _per_layer(self, final: np.ndarray) -> np.ndarray:
        """``(L*D, B, H)`` -> ``(L, B, D*H)``: each layer's directions side by side."""
        L, D = self.num_layers, self.directions
        _, B, H = final.shape
        return final.reshape(L, D, B, H).transpose(0, 2, 1, 3).reshape(L, B, D * H)

    def _from_per_layer(self, grad: np.ndarray) -> np.ndarray:
        L, D, H = self.num_layers, self.directions, self.hidden_size
        B = grad.shape[1]
        return grad.reshape(L, B, D, H).transpose(0, 2, 1, 3).reshape(L * D, B, H)

    def _bridge_layers(self) -> list[Linear]:
        return [self.bridge_h, self.bridge_c] if self.cell == "lstm" else [self.bridge_h]

    def _bridge(self, finals: tuple[np.ndarray, ...], batch: int) -> tuple[tuple, Any]:
        if self.bridge_kind == "zero":
            return self.steps.zeros(batch), None
        if not self.bridge_linear:
            return tuple(np.array(f) for f in finals), None
        inputs = [self._per_layer(f) for f in finals]
        layers = self._bridge_layers()
        state = tuple(np.tanh(affine(lin, x)) for lin, x in zip(layers, inputs, strict=True))
        return state, (inputs, state)

    def _encode_backward(self, cache: dict, grads: dict, grad_state: tuple) -> None:
        encoded: EncodedSource = cache["encoded"]
        grad_memory = grads["memory"]
        if grads["keys"] is not None:
            grad_memory = grad_memory + self.attention.prepare_backward(grads["keys"])
        grad_finals = [
            np.zeros((self.num_layers * self.directions, *s.shape[1:]), self.dtype)
            for s in encoded.state
        ]
        if self.bridge_linear:
            inputs, state = cache["bridge_inputs"]
            layers = self._bridge_layers()
            for index, (lin, x, y) in enumerate(zip(layers, inputs, state, strict=True)):
                grad_x = affine_backward(lin, x, grad_state[index] * (1.0 - y * y))
                grad_finals[index] += self._from_per_layer(grad_x)
        elif self.bridge_kind != "zero":
            for index, grad in enumerate(grad_state):
                grad_finals[index] += grad
        if grads["summary"] is not None:
            H, D = self.hidden_size, self.directions
            for direction in range(D):
                grad_finals[0][-D + direction] += grads["summary"][
                    :, direction * H : (direction + 1) * H
                ]
        grad_output = np.ascontiguousarray(grad_memory.transpose(1, 0, 2))
        grad_final = tuple(grad_finals) if self.cell == "lstm" else grad_finals[0]
        grad_embedded, _ = self.encoder.backward(grad_output, grad_final)
        if cache["folded"]:
            self._table_backward(self.source_embedding, grad_embedded)
        else:
            self.source_embedding.backward(grad_embedded)

    # -- decoder, the head shared by both paths ----------------------------------------------

    def _head(self, h: np.ndarray, encoded: EncodedSource, keep: bool) -> tuple[np.ndarray, Any]:
        """``h~`` ``(N, B, H)`` from the decoder's top outputs ``h`` ``(N, B, H)``."""
        if self.attention_kind == "none":
            return h, None
        query = h.transpose(1, 0, 2)
        group = encoded.group
        if group > 1:  # one step (N = 1): a source's GROUP rows ask as GROUP queries
            query = query.reshape(-1, group, query.shape[-1])
        context, weights, cache = self.attention.attend(
            query, encoded.keys, encoded.memory, encoded.mask, keep
        )
        if group > 1:
            context = context.reshape(-1, 1, context.shape[-1])
            weights = weights.reshape(-1, 1, weights.shape[-1])
        joined = np.concatenate([context.transpose(1, 0, 2), h], axis=-1)
        attentional = np.tanh(affine(self.combine, joined))
        return attentional, (cache, joined, attentional, weights)

    def _head_backward(self, grad: np.ndarray, head_cache: Any, grads: dict) -> np.ndarray:
        """``dL/dh`` from ``dL/dh~``; the attention's memory and key gradients go to GRADS."""
        if head_cache is None:
            return grad
        cache, joined, attentional, _ = head_cache
        grad_joined = affine_backward(self.combine, joined, grad * (1.0 - attentional**2))
        M = self.memory_size
        grad_query, grad_keys, grad_memory = self.attention.attend_backward(
            np.ascontiguousarray(grad_joined[..., :M].transpose(1, 0, 2)), cache
        )
        if grad_keys is not None:
            grads["keys"] += grad_keys
        grads["memory"] += grad_memory
        return grad_joined[..., M:] + grad_query.transpose(1, 0, 2)

    def _with_summary(self, x: np.ndarray, encoded: EncodedSource) -> np.ndarray:
        if encoded.summary is None:
            return x
        summary = encoded.per_row(encoded.summary)
        summary = np.broadcast_to(summary, (*x.shape[:-1], summary.shape[-1]))
        return np.concatenate([x, summary], axis=-1)

    def _output_mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if not self.training or self.dropout_p == 0.0:
            return None
        return dropout_mask(shape, self.dropout_p, self.rng, self.dtype)

    def _record_weights(self, weights: list[np.ndarray], encoded: EncodedSource) -> None:
        if not weights:
            self.attention_weights = None
            return
        stacked = np.concatenate(weights, axis=1)  # (B, T, S)
        if self.reverse_source:
            stacked = reverse_within_lengths(stacked, encoded.lengths)
        self.attention_weights = stacked

    # -- decoder, one sequence call ----------------------------------------------------------

    def _decode_sequence(self, tgt_in: np.ndarray, encoded: EncodedSource) -> np.ndarray:
        # Folded, the peeky summary goes in as the tokens' context: its input product is
        # made once per row rather than at every step.
        decoder_input = self._fold(self.target_embedding, tgt_in, encoded.summary)
        folded = decoder_input is not None
        if decoder_input is None:
            embedded = self.target_embedding.forward(tgt_in)
            decoder_input = self._with_summary(embedded, encoded)
        start = self.steps.as_layer_state(encoded.state)
        output, _ = self.decoder.forward(decoder_input, start)
        attentional, head_cache = self._head(output, encoded, self.training)
        features = self._with_summary(attentional, encoded)
        mask = self._output_mask(features.shape)
        dropped = features if mask is None else features * mask
        self._record_weights([] if head_cache is None else [head_cache[3]], encoded)
        if self._cache is not None:
            self._cache.update(
                stepped=False, head=head_cache, mask=mask, dropped=dropped, decoder_folded=folded
            )
        return affine(self.output, dropped)

    def _decode_sequence_backward(self, grad_logits: np.ndarray, cache: dict, grads: dict) -> tuple:
        grad_features = self._output_backward(grad_logits, cache, grads)
        grad_output = self._head_backward(grad_features, cache["head"], grads)
        grad_input, grad_start = self.decoder.backward(grad_output, None)
        if cache["decoder_folded"]:
            grad_table = grad_input
            if grads["summary"] is not None:
                grad_table, grad_summary = grad_input
                grads["summary"] += grad_summary
            self._table_backward(self.target_embedding, grad_table)
            return self.steps.as_tuple(grad_start)
        E = self.embedding_size
        if grads["summary"] is not None:
            grads["summary"] += grad_input[..., E:].sum(axis=0)
        self.target_embedding.backward(np.ascontiguousarray(grad_input[..., :E]))
        return self.steps.as_tuple(grad_start)

    def _output_backward(self, grad_logits: np.ndarray, cache: dict, grads: dict) -> np.ndarray:
        """``dL/dh~`` ``(T, B, H)`` from the logits' gradient; the summary's share to GRADS."""
        grad = affine_backward(self.output, cache["dropped"], grad_logits)
        if cache["mask"] is not None:
            grad = grad * cache["mask"]
        H = self.hidden_size
        if grads["summary"] is not None:
            grads["summary"] += grad[..., H:].sum(axis=0)
        return grad[..., :H]

    # -- decoder, step by step ---------------------------------------------------------------

    def _decode_steps(self, tgt_in: np.ndarray, encoded: EncodedSource, ratio: float) -> np.ndarray:
        num_steps, batch = tgt_in.shape
        keep = self.training
        tokens = tgt_in.copy()
        sample = None
        if ratio < 1.0:
            sample = self.rng.random((num_steps, batch)) >= ratio
            sample[0] = False
        mask = self._output_mask((num_steps, batch, self.output_input_size))
        dropped = np.empty((num_steps, batch, self.output_input_size), self.dtype)
        logits = np.empty((num_steps, batch, self.target_vocab_size), self.dtype)
        state = DecoderState(encoded.state, self._zero_feed(batch))
        head_caches, weights = [], []
        self.steps.clear()
        for t in range(num_steps):
            if sample is not None and t > 0:
                tokens[t] = np.where(sample[t], logits[t - 1].argmax(axis=-1), tokens[t])
            features, state, head_cache = self._step(tokens[t], state, encoded, keep)
            dropped[t] = features if mask is None else features * mask[t]
            logits[t] = affine(self.output, dropped[t])
            head_caches.append(head_cache)
            if head_cache is not None:
                weights.append(head_cache[3])
        self._record_weights(weights, encoded)
        if self._cache is not None:
            self.target_embedding.forward(tokens)  # for its backward: the tokens fed
            self._cache.update(stepped=True, heads=head_caches, mask=mask, dropped=dropped)
        return logits

    def _zero_feed(self, batch: int) -> np.ndarray | None:
        return np.zeros((batch, self.hidden_size), self.dtype) if self.input_feeding else None

    def _step(self, tokens: np.ndarray, state: DecoderState, encoded: EncodedSource, keep: bool):
        """One decoder step: ``([h~ ; s] (B, F), new DecoderState, head cache)``."""
        parts = [self.target_embedding.params["weight"][tokens]]
        if encoded.summary is not None:
            parts.append(encoded.per_row(encoded.summary))
        if state.feed is not None:
            parts.append(state.feed)
        h, new_state = self.steps.step(np.concatenate(parts, axis=-1), state.state, keep)
        attentional, head_cache = self._head(h[None], encoded, keep)
        attentional = attentional[0]
        features = self._with_summary(attentional, encoded)
        feed = attentional if self.input_feeding else None
        return features, DecoderState(new_state, feed), head_cache

    def _decode_steps_backward(self, grad_logits: np.ndarray, cache: dict, grads: dict) -> tuple:
        grad_attentional = self._output_backward(grad_logits, cache, grads)
        num_steps, batch, _ = grad_attentional.shape
        E, H = self.embedding_size, self.hidden_size
        grad_embedded = np.empty((num_steps, batch, E), self.dtype)
        grad_state = self.steps.zeros(batch)
        grad_feed = np.zeros((batch, H), self.dtype)
        for t in reversed(range(num_steps)):
            grad = grad_attentional[t] + grad_feed
            head_cache = cache["heads"][t]
            grad_h = self._head_backward(grad[None], head_cache, grads)[0]
            grad_x, grad_state = self.steps.backward_step(grad_h, grad_state)
            grad_embedded[t] = grad_x[:, :E]
            if grads["summary"] is not None:
                grads["summary"] += grad_x[:, E : E + self.summary_size]
            if self.input_feeding:
                grad_feed = grad_x[:, E + self.summary_size :]
        self.target_embedding.backward(grad_embedded)
        return grad_state

    # -- inference ---------------------------------------------------------------------------

    def start(self, encoded: EncodedSource) -> DecoderState:
        """The decoder's state before its first step, for ``encoded``'s decoder rows."""
        state = tuple(encoded.per_row(s, axis=1) for s in encoded.state)
        return DecoderState(state, self._zero_feed(encoded.memory.shape[0] * encoded.group))

    def step(
        self, tokens: np.ndarray, state: DecoderState, encoded: EncodedSource
    ) -> tuple[np.ndarray, DecoderState, np.ndarray | None]:
        """Feed ``tokens`` ``(N,)`` (one per decoder row of ``encoded``) in evaluation mode:
        ``(log-probabilities (N, V), new state, attention weights (N, S) or None)``.

        The weights are in the order the encoder read the source (reversed within each
        length with ``reverse_source``; ``source_order`` puts them back)."""
        if self.training:
            raise RuntimeError("step: call model.eval() first (decoding keeps no caches)")
        features, state, head_cache = self._step(np.asarray(tokens), state, encoded, False)
        log_probs = log_softmax(affine(self.output, features))
        return log_probs, state, None if head_cache is None else head_cache[3][:, 0]

    def source_order(self, weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Attention weights ``(N, ..., S)`` of ``step`` in the source's own order."""
        return reverse_within_lengths(weights, lengths) if self.reverse_source else weights
