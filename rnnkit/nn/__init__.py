"""Layers and losses: each with ``params``, ``grads``, ``forward`` and ``backward``."""

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.nn.crf import CRF
from rnnkit.nn.dropout import Dropout, dropout_mask
from rnnkit.nn.embedding import Embedding
from rnnkit.nn.layer import Layer
from rnnkit.nn.linear import Linear
from rnnkit.nn.losses import (
    binary_cross_entropy_with_logits,
    log_softmax,
    mse,
    softmax,
    softmax_cross_entropy,
)
from rnnkit.nn.recurrent import GRU, LSTM, RNN

__all__ = [
    "CRF",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "Dropout",
    "Embedding",
    "Layer",
    "Linear",
    "binary_cross_entropy_with_logits",
    "dropout_mask",
    "log_softmax",
    "mse",
    "softmax",
    "softmax_cross_entropy",
]
