"""RMSprop: divide the gradient by a running root mean square of recent gradients.

For each parameter ``p`` with gradient ``g`` (learning rate ``lr``, smoothing ``alpha``,
``eps``, weight decay ``lambda``, momentum ``mu``)::

    g = g + lambda * p                        if lambda != 0
    v = alpha * v + (1 - alpha) * g * g
    a = sqrt(v) + eps                         plain
    m = m + (1 - alpha) * (g - m)             centered: m estimates the mean gradient
    a = sqrt(v - m * m) + eps                 centered: a running standard deviation
    b = mu * b + g / a                        if mu > 0
    p = p - lr * b                            if mu > 0
    p = p - lr * g / a                        otherwise

``v``, ``m`` and ``b`` start at zero, and ``eps`` is added outside the square root, as in
``torch.optim.RMSprop``.
"""

from __future__ import annotations

import numpy as np

from rnnkit.optim.optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    """``torch.optim.RMSprop`` (state buffers: ``square_avg``, and ``momentum_buffer``
    when ``momentum > 0``, ``grad_avg`` when ``centered``)."""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, grads, lr)
        check_non_negative(alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.centered = centered
        self.square_avg = self._add_buffer("square_avg")
        if momentum > 0:
            self.momentum_buffer = self._add_buffer("momentum_buffer")
        if centered:
            self.grad_avg = self._add_buffer("grad_avg")

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        grad = self._grad_with_weight_decay(name, self.weight_decay)
        square_avg = self.square_avg[name]
        work = self._scratch(name)

        square_avg *= self.alpha
        np.multiply(grad, 1 - self.alpha, out=work)
        work *= grad
        square_avg += work

        if self.centered:
            grad_avg = self.grad_avg[name]
            # torch's lerp form: m += (1 - alpha) * (g - m)
            np.subtract(grad, grad_avg, out=work)
            work *= 1 - self.alpha
            grad_avg += work
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(square_avg, out=work)
        work += self.eps

        np.divide(grad, work, out=work)
        if self.momentum > 0:
            buf = self.momentum_buffer[name]
            buf *= self.momentum
            buf += work
            self._descend(name, buf, self.lr)
        else:
            self._descend(name, work, self.lr)
