"""Optimizers, gradient clipping and learning-rate schedulers, with torch.optim's semantics.

Optimizers update a model's ``params`` dict in place from its ``grads`` dict.
"""

from rnnkit.optim.adagrad import Adagrad
from rnnkit.optim.adam import Adam, AdamW
from rnnkit.optim.clip import clip_grad_norm
from rnnkit.optim.optimizer import Optimizer
from rnnkit.optim.rmsprop import RMSprop
from rnnkit.optim.schedulers import LR_DECAYS, LRScheduler, ReduceLROnPlateau, StepLR, decay_factor
from rnnkit.optim.sgd import SGD

__all__ = [
    "LR_DECAYS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "LRScheduler",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "clip_grad_norm",
    "decay_factor",
]
