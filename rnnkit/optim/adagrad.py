"""Adagrad: divide each step by the root of the sum of every squared gradient so far.

For each parameter ``p`` with gradient ``g``, at step ``t`` (learning rate ``lr``, learning
rate decay ``eta``, weight decay ``lambda``, ``eps``)::

    g = g + lambda * p                        if lambda != 0
    lr_t = lr / (1 + (t - 1) * eta)
    s = s + g * g
    p = p - lr_t * g / (sqrt(s) + eps)

``s`` starts at ``initial_accumulator_value`` (0 by default) in every entry, and ``t``
counts from 1, as in ``torch.optim.Adagrad``. An entry whose gradients have been large
takes small steps from then on, and one rarely touched keeps taking large ones: the sum
only grows, so the steps only shrink. ``eps`` (1e-10) is added outside the square root,
as torch does; Karpathy's min-char-rnn adds 1e-8 inside it, which differs only while ``s``
is near zero.
"""

from __future__ import annotations

import numpy as np

from rnnkit.optim.optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    """``torch.optim.Adagrad`` (state buffer: ``sum``, the running sum of squared gradients).

    Args:
        params: the model's parameters, updated in place.
        grads: their gradients, read at each ``step``.
        lr: the learning rate at step 1.
        lr_decay: the rate at step ``t`` is ``lr / (1 + (t - 1) * lr_decay)``.
        weight_decay: L2 penalty, added to the gradient before it is squared.
        initial_accumulator_value: where every entry of the sum starts.
        eps: added to the square root of the sum, so untouched entries do not divide by 0.
    """

    def __init__(
        self,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, grads, lr)
        check_non_negative(
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.eps = eps
        self.sum = self._add_buffer("sum")
        for array in self.sum.values():
            array.fill(initial_accumulator_value)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        grad = self._grad_with_weight_decay(name, self.weight_decay)
        state_sum = self.sum[name]
        work = self._scratch(name)

        np.multiply(grad, grad, out=work)
        state_sum += work
        np.sqrt(state_sum, out=work)
        work += self.eps
        np.divide(grad, work, out=work)
        self._descend(name, work, self.lr / (1 + (self.step_count - 1) * self.lr_decay))
