"""Seq2Seq folds a small embedding table into the first layer's input product (the peeky
summary as the tokens' context, projected once per row): loss and every gradient equal
those of looking the rows up first, in float64 (NumPy kernels) and float32 (C loops)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models.seq2seq import Seq2Seq
from tests.gradcheck import assert_close
from tests.models.test_seq2seq import PLAIN, padded_batch

CASES = {
    "lstm-peeky-reverse": dict(cell="lstm", peeky=True, reverse_source=True),
    "gru-general-peeky": dict(cell="gru", attention="general", peeky=True),
    "rnn-bi-2-layers": dict(cell="rnn", bidirectional=True, num_layers=2),
}


def gradients(model: Seq2Seq, batch: tuple[np.ndarray, ...], fold: bool) -> dict:
    if not fold:  # look the rows up first, as for a large vocabulary
        model._fold = lambda *args, **kwargs: None  # type: ignore[method-assign]
    model.zero_grad()
    loss = model.loss_and_backward(*batch)
    return {"loss": np.array(loss), **{k: v.copy() for k, v in model.grads.items()}}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(
    "dtype, hidden, tolerance", [(np.float64, 5, 1e-12), (np.float32, 16, 2e-5)]
)
def test_folded_equals_looked_up(case: str, dtype, hidden: int, tolerance: float) -> None:
    def build() -> Seq2Seq:
        options = dict(embedding_size=4, hidden_size=hidden, dtype=dtype, rng=0, **PLAIN)
        return Seq2Seq(7, 8, **{**options, **CASES[case]})

    folded_model = build()
    batch = padded_batch(folded_model)
    assert folded_model._fold(folded_model.source_embedding, batch[0].T) is not None
    folded = gradients(folded_model, batch, fold=True)
    looked_up = gradients(build(), batch, fold=False)
    assert folded.keys() == looked_up.keys()
    for name in folded:
        assert_close(folded[name], looked_up[name], tolerance)
    for table in ("source_embedding.weight", "target_embedding.weight"):
        assert not folded[table][0].any()  # the padding row learns nothing
