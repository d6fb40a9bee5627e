"""Adam and AdamW: running averages of the gradient and its square, bias-corrected.

For each parameter ``p`` with gradient ``g``, at step ``t`` (learning rate ``lr``, betas
``b1, b2``, ``eps``, weight decay ``lambda``)::

    p = p * (1 - lr * lambda)                 AdamW only (decoupled decay)
    g = g + lambda * p                        Adam only, if lambda != 0 (L2 penalty)
    m = m + (1 - b1) * (g - m)                i.e. b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

``m`` and ``v`` start at zero. As in ``torch.optim.Adam``, ``eps`` is added after the
square root of the bias-corrected ``v``, and AdamW shrinks the parameter before the
moments are updated, leaving the gradient alone.
"""

from __future__ import annotations

import numpy as np

from rnnkit.optim import fused_adam
from rnnkit.optim.optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    """``torch.optim.Adam`` (state buffers: ``exp_avg``, ``exp_avg_sq``)."""

    # Whether weight decay shrinks the parameter (AdamW) instead of adding to the gradient.
    decoupled_weight_decay = False

    def __init__(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
    ) -> None:
        super().__init__(params, grads, lr)
        check_non_negative(eps=eps, weight_decay=weight_decay)
        for index, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"invalid beta parameter at index {index}: {beta}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = eps
        self.weight_decay = weight_decay
        self.exp_avg = self._add_buffer("exp_avg")
        self.exp_avg_sq = self._add_buffer("exp_avg_sq")

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        beta1, beta2 = self.betas
        exp_avg, exp_avg_sq = self.exp_avg[name], self.exp_avg_sq[name]
        if fused_adam.applies(param, grad, exp_avg, exp_avg_sq):
            # float32: the same step in one C pass over the arrays (see fused_adam)
            fused_adam.adam_step(
                param, grad, exp_avg, exp_avg_sq, lr=self.lr, betas=self.betas, eps=self.eps,
                weight_decay=self.weight_decay, decoupled=self.decoupled_weight_decay,
                step=self.step_count,
            )  # fmt: skip
            return
        if self.decoupled_weight_decay:
            if self.weight_decay != 0:
                param *= 1 - self.lr * self.weight_decay
        else:
            grad = self._grad_with_weight_decay(name, self.weight_decay)
        work = self._scratch(name)

        # m += (1 - b1) * (g - m): torch's lerp form, which rounds differently from
        # b1 * m + (1 - b1) * g.
        np.subtract(grad, exp_avg, out=work)
        work *= 1 - beta1
        exp_avg += work

        exp_avg_sq *= beta2
        np.multiply(grad, 1 - beta2, out=work)
        work *= grad
        exp_avg_sq += work

        bias_correction1 = 1 - beta1**self.step_count
        bias_correction2_sqrt = (1 - beta2**self.step_count) ** 0.5
        # denominator: sqrt(v) / sqrt(1 - b2**t) + eps
        np.sqrt(exp_avg_sq, out=work)
        work /= bias_correction2_sqrt
        work += self.eps
        np.divide(exp_avg, work, out=work)
        self._descend(name, work, self.lr / bias_correction1)


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay (default 1e-2)."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, grads, lr, betas, eps, weight_decay)
