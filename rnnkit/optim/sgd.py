"""Stochastic gradient descent, with optional momentum, dampening, Nesterov and L2 decay.

For each parameter ``p`` with gradient ``g``, at step ``t`` (learning rate ``lr``,
momentum ``mu``, dampening ``tau``, weight decay ``lambda``)::

    g = g + lambda * p                        if lambda != 0
    b = g                                     if mu != 0 and t == 1
    b = mu * b + (1 - tau) * g                if mu != 0 and t > 1
    g = g + mu * b                            if nesterov
    g = b                                     otherwise, if mu != 0
    p = p - lr * g

As in ``torch.optim.SGD``, the momentum buffer starts as the first gradient itself (not
as zeros), and Nesterov momentum needs ``mu > 0`` and ``tau == 0``.
"""

from __future__ import annotations

import numpy as np

from rnnkit.optim.optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    """``torch.optim.SGD`` on a dict of NumPy parameters (state buffer: ``momentum_buffer``)."""

    def __init__(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        lr: float,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, grads, lr)
        check_non_negative(momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov
        if momentum != 0:
            self.momentum_buffer = self._add_buffer("momentum_buffer")

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        grad = self._grad_with_weight_decay(name, self.weight_decay)
        if self.momentum == 0:
            self._descend(name, grad, self.lr)
            return
        buf = self.momentum_buffer[name]
        if self.step_count == 1:
            np.copyto(buf, grad)
        else:
            work = self._scratch(name)
            buf *= self.momentum
            np.multiply(grad, 1 - self.dampening, out=work)
            buf += work
        if self.nesterov:
            work = self._scratch(name)
            np.multiply(buf, self.momentum, out=work)
            work += grad
            self._descend(name, work, self.lr)
        else:
            self._descend(name, buf, self.lr)
