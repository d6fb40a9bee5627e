"""TokenStepper: one row, one step at a time, the same numbers as the full-sequence layers."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import token_stepper
from rnnkit.models.token_stepper import TokenStepper
from rnnkit.nn import GRU, LSTM, RNN, lstm_fused

LAYERS = {
    "lstm": lambda: LSTM(3, 5, num_layers=2, dtype=np.float64, rng=0),
    "gru": lambda: GRU(3, 5, num_layers=2, dtype=np.float64, rng=0),
    "rnn_tanh": lambda: RNN(3, 5, num_layers=2, dtype=np.float64, rng=0),
    "rnn_relu": lambda: RNN(3, 5, num_layers=2, nonlinearity="relu", dtype=np.float64, rng=0),
    "no_bias": lambda: LSTM(3, 5, num_layers=2, bias=False, dtype=np.float64, rng=0),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_steps_match_the_sequence_layer(kind: str) -> None:
    layer = LAYERS[kind]().eval()
    x = np.random.default_rng(1).standard_normal((9, 1, 3))
    expected, final = layer.forward(x)
    stepper = TokenStepper(layer)
    outputs = [stepper.step(x[t, 0]) for t in range(9)]
    np.testing.assert_allclose(np.stack(outputs), expected[:, 0], rtol=1e-12, atol=1e-14)
    h_n = final[0] if kind in ("lstm", "no_bias") else final
    np.testing.assert_allclose(np.stack(stepper.h), h_n[:, 0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_continues_from_a_sequence_state(kind: str) -> None:
    layer = LAYERS[kind]().eval()
    x = np.random.default_rng(2).standard_normal((7, 1, 3))
    expected, _ = layer.forward(x)
    _, state = layer.forward(x[:4])
    stepper = TokenStepper(layer)
    stepper.set_state(state)
    outputs = [stepper.step(x[t, 0]) for t in range(4, 7)]
    np.testing.assert_allclose(np.stack(outputs), expected[4:, 0], rtol=1e-12, atol=1e-14)
    stepper.reset()
    np.testing.assert_allclose(stepper.step(x[0, 0]), expected[0, 0], rtol=1e-12)


def test_weights_are_a_snapshot_and_bidirectional_is_refused() -> None:
    layer = GRU(3, 5, dtype=np.float64, rng=0)
    stepper = TokenStepper(layer)
    before = stepper.step(np.ones(3))
    layer.params["weight_ih_l0"] += 1.0
    stepper.reset()
    np.testing.assert_array_equal(stepper.step(np.ones(3)), before)
    with pytest.raises(ValueError, match="bidirectional"):
        TokenStepper(GRU(3, 5, bidirectional=True))


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("max_entries", [None, 0])
def test_token_steps_through_the_input_table(
    kind: str, max_entries: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``step_token(id)`` is ``step(table[id])``, with the precomputed first-layer table and
    (``max_entries=0``) with a vocabulary too large for one."""
    if max_entries is not None:
        monkeypatch.setattr(token_stepper, "MAX_TABLE_ENTRIES", max_entries)
    layer = LAYERS[kind]().eval()
    table = np.random.default_rng(3).standard_normal((6, 3))
    ids = [4, 0, 5, 5, 2, 1, 3]
    expected, _ = layer.forward(table[ids][:, None])
    stepper = TokenStepper(layer, input_table=table)
    assert (stepper.table is None) == (max_entries == 0)
    outputs = [stepper.step_token(token) for token in ids]
    np.testing.assert_allclose(np.stack(outputs), expected[:, 0], rtol=1e-12, atol=1e-14)


def test_step_token_needs_a_table() -> None:
    stepper = TokenStepper(LSTM(3, 5, rng=0))
    with pytest.raises(ValueError, match="input_table"):
        stepper.step_token(0)


def test_without_a_table_the_embedding_is_a_snapshot_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(token_stepper, "MAX_TABLE_ENTRIES", 0)
    table = np.random.default_rng(4).standard_normal((6, 3))
    stepper = TokenStepper(LAYERS["lstm"]().eval(), input_table=table)
    before = stepper.step_token(2)
    table[2] += 1.0
    stepper.reset()
    np.testing.assert_array_equal(stepper.step_token(2), before)


def test_decoder_logits_are_the_decoder_of_the_stepped_h() -> None:
    layer = LAYERS["gru"]().eval()
    table = np.random.default_rng(5).standard_normal((6, 3))
    weight, bias = np.random.default_rng(6).standard_normal((7, 5)), np.arange(7.0)
    plain, decoded = TokenStepper(layer, input_table=table), TokenStepper(layer, table)
    decoded.set_decoder(weight, bias)
    for token in [3, 1, 4]:
        h = plain.step_token(token)
        np.testing.assert_allclose(decoded.step_token_logits(token), weight @ h + bias, rtol=1e-12)


# The C loops of float32 LSTMs (rnnkit.nn.lstm_fused) step batch-1 stacks too.
needs_c = pytest.mark.skipif(
    not lstm_fused.enabled(), reason="the C accelerator is not built or this CPU lacks AVX-512"
)


@needs_c
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_float32_lstm_steps_in_c_match_float64(threads: int, num_layers: int) -> None:
    previous = lstm_fused.set_threads(threads)
    try:
        exact = LSTM(4, 32, num_layers=num_layers, dtype=np.float64, rng=0).eval()
        single = LSTM(4, 32, num_layers=num_layers, dtype=np.float32).eval()
        single.load_state_dict(exact.state_dict())
        rng = np.random.default_rng(7)
        table = rng.standard_normal((9, 4))
        weight, bias = rng.standard_normal((11, 32)), rng.standard_normal(11)
        ids = [8, 0, 3, 3, 5, 1, 7, 2]
        expected, _ = exact.forward(table[ids][:, None])
        stepper = TokenStepper(single, input_table=table.astype(np.float32))
        assert stepper.fused is not None
        stepper.set_decoder(weight, bias)
        logits = [stepper.step_token_logits(token).copy() for token in ids]
        np.testing.assert_allclose(np.stack(logits), expected[:, 0] @ weight.T + bias, atol=2e-5)
        np.testing.assert_allclose(np.stack(stepper.h)[-1], expected[-1, 0], atol=2e-5)
        # step() with a vector, and without a decoder, takes the same path
        stepper.reset()
        outputs = [stepper.step(table[token].astype(np.float32)) for token in ids]
        np.testing.assert_allclose(np.stack(outputs), expected[:, 0], atol=2e-5)
    finally:
        lstm_fused.set_threads(previous)


@needs_c
def test_c_steps_with_uneven_thread_shares_a_large_vocabulary_and_a_shared_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # hidden 48 is three unit blocks: 2 threads split them 1 + 2. Without the precomputed
    # table (MAX_TABLE_ENTRIES 0) the step multiplies the embedding row itself. Two steppers
    # of different sizes interleave on the process's one pool of threads.
    monkeypatch.setattr(token_stepper, "MAX_TABLE_ENTRIES", 0)
    previous = lstm_fused.set_threads(2)
    try:
        rng = np.random.default_rng(8)
        table, ids = rng.standard_normal((6, 4)), [5, 0, 2, 2, 4]
        weight, bias = rng.standard_normal((7, 48)), rng.standard_normal(7)
        big = LSTM(4, 48, num_layers=2, dtype=np.float64, rng=0).eval()
        small = LSTM(4, 16, dtype=np.float64, rng=1).eval()
        steppers, expected = [], []
        for exact in (big, small):
            single = LSTM(4, exact.hidden_size, num_layers=exact.num_layers).eval()
            single.load_state_dict(exact.state_dict())
            steppers.append(TokenStepper(single, input_table=table.astype(np.float32)))
            expected.append(exact.forward(table[ids][:, None])[0][:, 0])
        steppers[0].set_decoder(weight, bias)
        got_logits, got_small = [], []
        for token in ids:
            got_logits.append(steppers[0].step_token_logits(token).copy())
            got_small.append(steppers[1].step_token(token))
        np.testing.assert_allclose(np.stack(got_logits), expected[0] @ weight.T + bias, atol=2e-5)
        np.testing.assert_allclose(np.stack(got_small), expected[1], atol=2e-5)
    finally:
        lstm_fused.set_threads(previous)


@needs_c
def test_c_steps_refuse_what_would_read_outside_their_arrays() -> None:
    stepper = TokenStepper(LSTM(4, 16).eval(), input_table=np.ones((3, 4), np.float32))
    with pytest.raises(IndexError):
        stepper.step_token(3)
    with pytest.raises(ValueError, match="decoder bias"):
        stepper.set_decoder(np.ones((10, 16)), np.ones(3))
    with pytest.raises(ValueError, match="decoder weight"):
        stepper.set_decoder(np.ones((10, 8)), np.ones(10))
    with pytest.raises(ValueError, match="input size"):
        TokenStepper(LSTM(4, 16).eval(), input_table=np.ones((3, 400), np.float32))
