"""ConditionedLanguageModel: torch oracle for every gradient (bridge and condition embedding
included), padding invariance, generation against the full forward pass, and a toy case it
must learn exactly: a vector encoding a number conditions the sequence of its digits."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.models.conditioned_language_model import (
    ConditionedLanguageModel,
    ConditionedLanguageModelConfig,
)
from rnnkit.optim import Adam
from tests.gradcheck import assert_close, check_with_fixed_masks

if TYPE_CHECKING:
    import torch

VOCAB, CATEGORIES, FEATURES = 7, 3, 4
LENGTHS = np.array([3, 5, 1, 4])


def make_model(condition: str = "category", **options: object) -> ConditionedLanguageModel:
    settings = dict(
        num_categories=CATEGORIES,
        feature_size=FEATURES,
        condition_size=3,
        embedding_size=4,
        hidden_size=5,
        dropout=0.0,
        dtype=np.float64,
        rng=0,
    )
    settings.update(options)
    return ConditionedLanguageModel(VOCAB, condition, **settings)


def padded_batch(model: ConditionedLanguageModel, seed: int = 1) -> tuple:
    """Inputs and targets padded with ``pad_id`` / -1, and one condition per row."""
    rng = np.random.default_rng(seed)
    inputs = np.full((len(LENGTHS), LENGTHS.max()), model.pad_id)
    targets = np.full(inputs.shape, -1)
    for row, length in enumerate(LENGTHS):
        inputs[row, :length] = rng.integers(0, VOCAB, length)
        targets[row, :length] = rng.integers(0, VOCAB, length)
    if model.condition == "category":
        condition = rng.integers(0, CATEGORIES, len(LENGTHS))
    else:
        condition = rng.normal(0.0, 1.0, (len(LENGTHS), FEATURES))
    return inputs, targets, condition


def torch_layers(torch: ModuleType, model: ConditionedLanguageModel) -> torch.nn.ModuleDict:
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model.cell]
    width = model.condition_width
    layers = {
        "bridge": torch.nn.Linear(width, model.states * model.num_layers * model.hidden_size),
        "embedding": torch.nn.Embedding(VOCAB + 1, model.embedding_size, padding_idx=VOCAB),
        "rnn": rnn(
            model.embedding_size + (width if model.feed_condition else 0),
            model.hidden_size,
            model.num_layers,
        ),
        "decoder": torch.nn.Linear(model.hidden_size, VOCAB),
    }
    if model.condition == "category":
        layers["condition_embedding"] = torch.nn.Embedding(CATEGORIES, width)
    modules = torch.nn.ModuleDict(layers).double()
    modules.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return modules


def torch_logits(torch: ModuleType, layers, model, inputs, condition):
    """The model's forward pass in torch: ``(T, B, V)``."""
    if model.condition == "category":
        c = layers["condition_embedding"](torch.from_numpy(condition))
    else:
        c = torch.from_numpy(condition).requires_grad_()
    batch, steps = inputs.shape
    z = layers["bridge"](c).reshape(batch, model.states, model.num_layers, model.hidden_size)
    state = torch.tanh(z).permute(1, 2, 0, 3)
    state = (state[0], state[1]) if model.states == 2 else state[0]
    x = layers["embedding"](torch.from_numpy(inputs.T))
    if model.feed_condition:
        x = torch.cat([x, c.expand(steps, batch, -1)], dim=2)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.from_numpy(LENGTHS), enforce_sorted=False
    )
    output, _ = layers["rnn"](packed, state)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=steps)
    return layers["decoder"](output), c


@pytest.mark.parametrize("feed", [True, False])
@pytest.mark.parametrize("condition", ["category", "vector"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_logits_loss_and_every_gradient_match_torch(
    torch: ModuleType, cell: str, condition: str, feed: bool
) -> None:
    model = make_model(condition, cell=cell, num_layers=2, feed_condition=feed)
    inputs, targets, conditions = padded_batch(model)
    model.zero_grad()
    logits = model.forward(inputs, conditions, LENGTHS)
    loss, grad_logits = model._loss(logits, targets, LENGTHS)
    grad_condition = model.backward(grad_logits)

    oracle = torch_layers(torch, model)
    torch_out, c = torch_logits(torch, oracle, model, inputs, conditions)
    valid = torch.from_numpy(targets.T >= 0)
    torch_loss = torch.nn.functional.cross_entropy(
        torch_out[valid], torch.from_numpy(targets.T)[valid]
    )
    torch_loss.backward()

    valid_np = targets >= 0
    assert_close(logits[valid_np], torch_out.transpose(0, 1)[torch.from_numpy(valid_np)])
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    torch_grads = dict(oracle.named_parameters())
    assert set(torch_grads) == set(model.grads)
    assert "bridge.weight" in model.grads
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad, tol=1e-8)
    if condition == "vector":  # the gradient of the features themselves
        assert_close(grad_condition, c.grad, tol=1e-8)


def test_gradients_match_finite_differences_with_dropout() -> None:
    model = make_model("category", num_layers=2, dropout=0.3, cell="gru")
    inputs, targets, conditions = padded_batch(model)
    check_with_fixed_masks(
        model,
        lambda: model.loss_and_backward(inputs, targets, conditions, LENGTHS),
        lambda: model._loss(model.forward(inputs, conditions, LENGTHS), targets, LENGTHS)[0],
        ["condition_embedding.weight", "bridge.weight", "rnn.weight_hh_l1"],
    )


@pytest.mark.parametrize("condition", ["category", "vector"])
def test_a_row_alone_and_inside_a_padded_batch_agree(condition: str) -> None:
    model = make_model(condition, num_layers=2)
    inputs, targets, conditions = padded_batch(model)
    batch_logits = model.forward(inputs, conditions, LENGTHS)
    for row, length in enumerate(LENGTHS):
        alone = (inputs[row : row + 1, :length], conditions[row : row + 1])
        assert_close(model.forward(*alone), batch_logits[row : row + 1, :length], tol=1e-13)
        model.zero_grad()
        model.loss_and_backward(alone[0], targets[row : row + 1, :length], alone[1])
        alone_grads = {k: g.copy() for k, g in model.grads.items()}
        # The batch with only this row's targets: the others ignored (-1), so the mean is
        # over this row's steps, as alone.
        only_row = np.full_like(targets, -1)
        only_row[row] = targets[row]
        model.zero_grad()
        model.loss_and_backward(inputs, only_row, conditions, LENGTHS)
        for name, grad in model.grads.items():
            assert_close(grad, alone_grads[name], tol=1e-12)


@pytest.mark.parametrize("feed", [True, False])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_greedy_generation_follows_the_forward_pass(cell: str, feed: bool) -> None:
    model = make_model("vector", cell=cell, feed_condition=feed, num_layers=2)
    condition = np.random.default_rng(3).normal(size=FEATURES)
    text = [2, 5]
    text += list(model.generate(condition, text, length=6, temperature=0))
    logits = model.forward(np.array([text[:-1]]), condition[None])[0]
    assert text[2:] == list(logits.argmax(axis=1)[1:])


def test_generation_stops_at_the_stop_token_and_is_seeded() -> None:
    model = make_model()
    draws = [list(model.generate(1, [0], 30, temperature=1.0, rng=7)) for _ in range(2)]
    assert draws[0] == draws[1] and len(draws[0]) == 30
    stop = draws[0][3]
    stopped = list(model.generate(1, [0], 30, temperature=1.0, stop=stop, rng=7))
    assert stopped == draws[0][: draws[0].index(stop)]


def test_a_number_vector_conditions_the_digits_that_spell_it() -> None:
    # Tokens: digits 0-9, 10 = start, 11 = end. The condition is the number's 8 binary
    # digits (as +-1); the text is its decimal digits. Trained on all numbers < 200, greedy
    # generation must spell every one of them exactly.
    numbers = np.arange(200)
    bits = ((numbers[:, None] >> np.arange(8)) & 1) * 2.0 - 1.0
    digits = [[int(d) for d in str(n)] for n in numbers]
    lengths = np.array([len(d) + 1 for d in digits])
    inputs = np.full((len(numbers), lengths.max()), 12)  # 12 = the padding id
    targets = np.full(inputs.shape, -1)
    for row, spelled in enumerate(digits):
        inputs[row, : lengths[row]] = [10, *spelled]
        targets[row, : lengths[row]] = [*spelled, 11]
    model = ConditionedLanguageModel(
        12, "vector", feature_size=8, embedding_size=8, hidden_size=32, cell="gru", dropout=0.0,
        rng=0,
    )  # fmt: skip
    optimizer = Adam(model.params, model.grads, lr=0.02)
    order = np.random.default_rng(0)
    for _ in range(40):  # seeds 0-3 all spelled every number by epoch 30
        for rows in np.array_split(order.permutation(len(numbers)), 4):
            model.zero_grad()
            model.loss_and_backward(inputs[rows], targets[rows], bits[rows], lengths[rows])
            optimizer.step()
    spelled = ["".join(map(str, model.generate(b, [10], 5, temperature=0, stop=11))) for b in bits]
    wrong = [(n, s) for n, s in zip(numbers, spelled, strict=True) if s != str(n)]
    assert not wrong, f"{len(wrong)} numbers misspelled, e.g. {wrong[:5]}"


def test_config_round_trip_and_errors() -> None:
    model = make_model("vector", cell="rnn", feed_condition=False)
    rebuilt = ConditionedLanguageModel.from_config(model.config(), dtype=np.float64)
    assert rebuilt.config() == model.config()
    assert "condition_embedding.weight" not in model.params
    assert ConditionedLanguageModelConfig().feed_condition is True
    with pytest.raises(ValueError, match="num_categories"):
        ConditionedLanguageModel(VOCAB, "category", num_categories=0)
    with pytest.raises(ValueError, match="condition: expected feature rows of shape"):
        model.forward(np.zeros((2, 3), dtype=np.int64), np.zeros((2, FEATURES + 1)))
    with pytest.raises(ValueError, match="condition: expected 2 category ids"):
        make_model().forward(np.zeros((2, 3), dtype=np.int64), [0.5, 1.5])


def test_generation_never_draws_an_excluded_id() -> None:
    model = make_model()
    model.decoder.params["bias"][4] += 50.0
    assert set(model.generate(1, [0], 30, temperature=1.0, rng=7)) == {4}
    kept = list(model.generate(1, [0], 30, temperature=1.0, rng=7, exclude=(4,)))
    assert len(kept) == 30 and 4 not in kept
