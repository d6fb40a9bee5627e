"""A linear-chain conditional random field over per-step tag scores (emissions).

For one sentence of ``n`` steps with emission scores ``e_t(j)`` (tag ``j`` at step ``t``),
transition scores ``A[i, j]`` (tag ``i`` followed by tag ``j``), start scores ``s_j`` and end
scores ``f_j``, a tag sequence ``y`` scores::

    score(y) = s[y_1] + sum_{t=1..n} e_t(y_t) + sum_{t=2..n} A[y_{t-1}, y_t] + f[y_n]

and ``p(y | e) = exp(score(y)) / Z`` with ``Z = sum_y exp(score(y))`` over all ``K^n``
sequences. The loss is the negative log-likelihood ``log Z - score(gold)``.

Forward algorithm, in log space (``lse`` = log-sum-exp)::

    alpha_1(j) = s_j + e_1(j)
    alpha_t(j) = e_t(j) + lse_i (alpha_{t-1}(i) + A[i, j])          t = 2..n
    log Z      = lse_j (alpha_n(j) + f_j)

Backward algorithm::

    beta_n(i) = f_i
    beta_t(i) = lse_j (A[i, j] + e_{t+1}(j) + beta_{t+1}(j))         t = n-1..1

The gradient of ``log Z`` is the expected count of each score under ``p`` (forward-backward
marginals), and the gradient of ``score(gold)`` its count in the gold sequence::

    P(y_t = j)                  = exp(alpha_t(j) + beta_t(j) - log Z)
    P(y_t = i, y_{t+1} = j)     = exp(alpha_t(i) + A[i, j] + e_{t+1}(j) + beta_{t+1}(j) - log Z)
    dNLL/de_t(j) = P(y_t = j) - [y_t = j]
    dNLL/dA[i,j] = sum_t P(y_t = i, y_{t+1} = j) - #{t: y_t = i, y_{t+1} = j}
    dNLL/ds_j    = P(y_1 = j) - [y_1 = j],     dNLL/df_j = P(y_n = j) - [y_n = j]

Viterbi decoding replaces ``lse`` by ``max`` in the forward recursion, keeps the arg-max
``i`` of each step and reads the best sequence back from ``argmax_j (delta_n(j) + f_j)``.

Batches are padded: emissions ``(B, T, K)`` (batch first) with ``lengths (B,)``. Steps past
a row's length leave its ``alpha`` and ``delta`` unchanged and its backpointers the
identity, so padding changes no result and gets a zero gradient.

Parameters (as the ``pytorch-crf`` package names them): ``transitions (K, K)``,
``start_transitions (K,)``, ``end_transitions (K,)``, all uniform in (-0.1, 0.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnnkit.nn.layer import Layer, check_dtype, check_sizes, make_rng

INIT_RANGE = 0.1
REDUCTIONS = ("sum", "mean", "token_mean")


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """``log sum exp x`` along AXIS, shifted by the maximum so nothing overflows."""
    top = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(x - top), axis=axis))


class CRF(Layer):
    """Linear-chain CRF over ``num_tags`` tags; see the module docstring for the math.

    ``loss = crf.forward(emissions, tags, lengths)`` is the negative log-likelihood
    (``reduction``: ``sum`` over sentences, ``mean`` per sentence, or ``token_mean`` per
    token), ``grad_emissions = crf.backward(grad_loss)`` adds the parameter gradients, and
    ``crf.decode(emissions, lengths)`` gives the Viterbi tags.
    """

    def __init__(
        self,
        num_tags: int,
        reduction: str = "sum",
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_sizes(num_tags=num_tags)
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"reduction: expected one of {', '.join(REDUCTIONS)}, got {reduction!r}"
            )
        self.num_tags = int(num_tags)
        self.reduction = reduction
        self.dtype = check_dtype(dtype)
        rng = make_rng(rng)
        K = self.num_tags
        for name, shape in (
            ("transitions", (K, K)),
            ("start_transitions", (K,)),
            ("end_transitions", (K,)),
        ):
            self.add_param(name, rng.uniform(-INIT_RANGE, INIT_RANGE, shape).astype(self.dtype))
        self._cache: tuple[np.ndarray, ...] | None = None

    # -- inputs ------------------------------------------------------------------------------

    def _checked(self, emissions: Any, lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        emissions = np.asarray(emissions, dtype=self.dtype)
        if emissions.ndim != 3 or emissions.shape[2] != self.num_tags or 0 in emissions.shape:
            raise ValueError(
                f"emissions: expected shape (batch, steps, {self.num_tags}), got {emissions.shape}"
            )
        batch, steps, _ = emissions.shape
        lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
        if lengths.shape != (batch,) or lengths.dtype.kind not in "iu":
            raise ValueError(f"lengths: expected {batch} integers, got {lengths!r}")
        if np.any((lengths < 1) | (lengths > steps)):
            raise ValueError(f"lengths: every length must be between 1 and {steps}, got {lengths}")
        return emissions, lengths.astype(np.int64)

    def _checked_tags(self, tags: Any, shape: tuple[int, int], lengths: np.ndarray) -> np.ndarray:
        tags = np.asarray(tags)
        if tags.shape != shape or tags.dtype.kind not in "iu":
            raise ValueError(f"tags: expected integers of shape {shape}, got {tags.shape}")
        valid = np.arange(shape[1])[None, :] < lengths[:, None]
        tags = np.where(valid, tags, 0)  # padding may hold anything (e.g. -1)
        if np.any((tags < 0) | (tags >= self.num_tags)):
            raise ValueError(f"tags: expected values in [0, {self.num_tags}) within each length")
        return tags.astype(np.int64)

    # -- scores ------------------------------------------------------------------------------

    def _alphas(self, emissions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``alpha`` ``(T, B, K)``; past a row's length it repeats the row's last value."""
        steps = emissions.shape[1]
        A = self.params["transitions"]
        alpha = np.empty((steps, *emissions.shape[::2]), dtype=self.dtype)
        alpha[0] = self.params["start_transitions"] + emissions[:, 0]
        for t in range(1, steps):
            new = emissions[:, t] + logsumexp(alpha[t - 1][:, :, None] + A, axis=1)
            alpha[t] = np.where((t < lengths)[:, None], new, alpha[t - 1])
        return alpha

    def _betas(self, emissions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``beta`` ``(T, B, K)``: ``f`` at each row's last step (and past it)."""
        steps = emissions.shape[1]
        A, end = self.params["transitions"], self.params["end_transitions"]
        beta = np.empty((steps, *emissions.shape[::2]), dtype=self.dtype)
        beta[-1] = end
        for t in range(steps - 2, -1, -1):
            following = (emissions[:, t + 1] + beta[t + 1])[:, None, :]  # (B, 1, K): over j
            new = logsumexp(A + following, axis=2)
            beta[t] = np.where((t + 1 < lengths)[:, None], new, end)
        return beta

    def log_partition(self, emissions: Any, lengths: Any = None) -> np.ndarray:
        """``log Z`` of each row, ``(B,)``."""
        emissions, lengths = self._checked(emissions, lengths)
        alpha = self._alphas(emissions, lengths)
        return logsumexp(alpha[-1] + self.params["end_transitions"], axis=1)

    def score(self, emissions: Any, tags: Any, lengths: Any = None) -> np.ndarray:
        """``score(tags)`` of each row, ``(B,)``."""
        emissions, lengths = self._checked(emissions, lengths)
        tags = self._checked_tags(tags, emissions.shape[:2], lengths)
        return self._score(emissions, tags, lengths)

    def _score(self, emissions: np.ndarray, tags: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        batch, steps, _ = emissions.shape
        rows = np.arange(batch)
        valid = np.arange(steps)[None, :] < lengths[:, None]
        emitted = np.take_along_axis(emissions, tags[:, :, None], axis=2)[:, :, 0]
        total = (emitted * valid).sum(axis=1)
        moves = self.params["transitions"][tags[:, :-1], tags[:, 1:]] * valid[:, 1:]
        last = tags[rows, lengths - 1]
        return (
            total
            + moves.sum(axis=1)
            + self.params["start_transitions"][tags[:, 0]]
            + self.params["end_transitions"][last]
        )

    # -- loss and gradient -------------------------------------------------------------------

    def forward(self, emissions: Any, tags: Any, lengths: Any = None) -> float:
        """The negative log-likelihood of TAGS ``(B, T)`` given EMISSIONS ``(B, T, K)``,
        reduced as ``self.reduction`` says; the marginals are kept for ``backward``."""
        emissions, lengths = self._checked(emissions, lengths)
        tags = self._checked_tags(tags, emissions.shape[:2], lengths)
        alpha = self._alphas(emissions, lengths)
        log_z = logsumexp(alpha[-1] + self.params["end_transitions"], axis=1)
        nll = log_z - self._score(emissions, tags, lengths)
        scale = self._scale(lengths)
        if self.training:
            self._cache = (emissions, tags, lengths, alpha, log_z, scale)
        return float(nll.sum() * scale)

    def _scale(self, lengths: np.ndarray) -> float:
        if self.reduction == "mean":
            return 1.0 / len(lengths)
        if self.reduction == "token_mean":
            return 1.0 / float(lengths.sum())
        return 1.0

    def backward(self, grad_loss: float = 1.0) -> np.ndarray:
        """``dL/demissions`` ``(B, T, K)`` (zero past each length); parameter gradients are
        added into ``grads``. ``grad_loss`` is ``dL/dloss`` of the reduced loss."""
        if self._cache is None:
            raise RuntimeError(
                "backward: no forward pass to differentiate; call forward in training mode first"
            )
        emissions, tags, lengths, alpha, log_z, scale = self._cache
        self._cache = None
        batch, steps, K = emissions.shape
        factor = grad_loss * scale
        beta = self._betas(emissions, lengths)
        valid = np.arange(steps)[:, None] < lengths[None, :]  # (T, B)
        marginals = np.exp(alpha + beta - log_z[None, :, None]) * valid[:, :, None]  # (T, B, K)
        gold = np.zeros_like(marginals)
        np.put_along_axis(gold, tags.T[:, :, None], 1.0, axis=2)
        gold *= valid[:, :, None]
        grad_emissions = (marginals - gold).transpose(1, 0, 2) * factor

        A = self.params["transitions"]
        if steps > 1:
            pair_valid = valid[1:]  # (T-1, B): step t+1 is inside the row
            pairwise = (
                np.exp(
                    alpha[:-1, :, :, None]
                    + A
                    + (emissions.transpose(1, 0, 2)[1:] + beta[1:])[:, :, None, :]
                    - log_z[None, :, None, None]
                )
                * pair_valid[:, :, None, None]
            )
            expected = pairwise.sum(axis=(0, 1))
            counts = np.zeros((K, K), dtype=self.dtype)
            moves = pair_valid.T  # (B, T-1)
            np.add.at(counts, (tags[:, :-1][moves], tags[:, 1:][moves]), 1.0)
            self.grads["transitions"] += (expected - counts) * factor
        rows = np.arange(batch)
        last = tags[rows, lengths - 1]
        first_gold = np.bincount(tags[:, 0], minlength=K)
        last_gold = np.bincount(last, minlength=K)
        self.grads["start_transitions"] += (marginals[0].sum(axis=0) - first_gold) * factor
        last_marginals = marginals[lengths - 1, rows]  # (B, K)
        self.grads["end_transitions"] += (last_marginals.sum(axis=0) - last_gold) * factor
        return np.ascontiguousarray(grad_emissions, dtype=self.dtype)

    # -- decoding ----------------------------------------------------------------------------

    def decode(self, emissions: Any, lengths: Any = None) -> np.ndarray:
        """The most likely tags ``(B, T)`` (Viterbi); ``-1`` past each row's length."""
        emissions, lengths = self._checked(emissions, lengths)
        batch, steps, K = emissions.shape
        A = self.params["transitions"]
        delta = self.params["start_transitions"] + emissions[:, 0]
        pointers = np.empty((steps, batch, K), dtype=np.int64)
        identity = np.broadcast_to(np.arange(K), (batch, K))
        for t in range(1, steps):
            candidates = delta[:, :, None] + A  # (B, i, j)
            best = candidates.argmax(axis=1)
            new = emissions[:, t] + np.take_along_axis(candidates, best[:, None], axis=1)[:, 0]
            running = (t < lengths)[:, None]
            delta = np.where(running, new, delta)
            pointers[t] = np.where(running, best, identity)
        rows = np.arange(batch)
        tags = np.empty((batch, steps), dtype=np.int64)
        tags[:, -1] = (delta + self.params["end_transitions"]).argmax(axis=1)
        for t in range(steps - 1, 0, -1):
            tags[:, t - 1] = pointers[t, rows, tags[:, t]]
        tags[np.arange(steps)[None, :] >= lengths[:, None]] = -1
        return tags
