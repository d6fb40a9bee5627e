"""LanguageModel without the oracle: finite-difference gradients, weight tying, state carry,
truncated BPTT, the random generator, sampling. The torch comparison is in
``test_language_model_oracle``."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.models import LanguageModel, language_model, sample_token
from rnnkit.nn import softmax_cross_entropy
from tests.gradcheck import check_with_fixed_masks

VOCAB = 7


def tiny_model(cell: str = "lstm", tie: bool = False, **options) -> LanguageModel:
    """A float64 model small enough to differentiate numerically."""
    size = 4
    defaults = dict(embedding_size=size, hidden_size=size, num_layers=2, cell=cell)
    defaults.update(options)
    return LanguageModel(VOCAB, tie_weights=tie, dtype=np.float64, rng=0, **defaults)


def window(batch: int = 2, steps: int = 5, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    ids = np.random.default_rng(seed).integers(0, VOCAB, (batch, steps + 1))
    return ids[:, :-1], ids[:, 1:]


def random_state(model: LanguageModel, batch: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    shape = (model.num_layers, batch, model.hidden_size)
    if model.cell == "lstm":
        return rng.standard_normal(shape) * 0.5, rng.standard_normal(shape) * 0.5
    return rng.standard_normal(shape) * 0.5


@pytest.mark.parametrize(
    ("cell", "tie"), [("lstm", False), ("lstm", True), ("gru", True), ("rnn", False)]
)
def test_gradients_match_directional_finite_differences(cell: str, tie: bool) -> None:
    # For a random direction v in parameter space, grad . v must equal the central
    # difference (f(theta + eps v) - f(theta - eps v)) / 2 eps. One random direction per
    # parameter array and one through all of them at once.
    model = tiny_model(cell, tie)
    inputs, targets = window()
    state = random_state(model, batch=2)
    model.zero_grad()
    model.loss_and_backward(inputs, targets, state)
    grads = {name: grad.copy() for name, grad in model.grads.items()}

    def loss_at(direction: dict[str, np.ndarray], eps: float) -> float:
        for name, v in direction.items():
            model.params[name] += eps * v
        loss, _ = model.loss(inputs, targets, state)
        for name, v in direction.items():
            model.params[name] -= eps * v
        return loss

    rng = np.random.default_rng(3)
    directions = [{name: rng.standard_normal(p.shape)} for name, p in model.params.items()]
    directions.append({name: rng.standard_normal(p.shape) for name, p in model.params.items()})
    eps = 1e-5
    for direction in directions:
        analytic = sum(float(np.sum(grads[name] * v)) for name, v in direction.items())
        numeric = (loss_at(direction, eps) - loss_at(direction, -eps)) / (2 * eps)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9), sorted(direction)


@pytest.mark.parametrize("batch", [2, 1], ids=["folded", "looked_up"])
@pytest.mark.parametrize(("cell", "tie"), [("lstm", True), ("gru", False), ("rnn", False)])
def test_gradients_match_finite_differences_with_dropout(cell: str, tie: bool, batch: int) -> None:
    # Restoring the generator before each forward draws the same masks (between the layers
    # and before the decoder) every time, so the loss is a fixed function of the weights.
    # 2 x 5 tokens fold the 7-token vocabulary into the first layer, 1 x 5 look it up.
    model = tiny_model(cell, tie, dropout=0.4)
    # Token vectors of unit size rather than the initial 0.1: the first layer's input
    # gradients are then well above the round-off of the central differences.
    table = model.params["embedding.weight"]
    table[...] = np.random.default_rng(4).standard_normal(table.shape)
    inputs, targets = window(batch)
    state = random_state(model, batch)
    check_with_fixed_masks(
        model,
        lambda: model.loss_and_backward(inputs, targets, state),
        lambda: softmax_cross_entropy(model.forward(inputs, state)[0], targets)[0],
        # Each side of each mask: the layer below and the one above it.
        ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_ih_l1", "rnn.bias_hh_l1"]
        + ["decoder.bias"]
        + ([] if tie else ["decoder.weight"]),
    )
    assert model._folded == (batch == 2)


def test_tied_table_is_one_parameter_with_both_gradients_summed() -> None:
    tied = tiny_model(tie=True)
    assert "decoder.weight" not in tied.params
    assert tied.decoder.params["weight"] is tied.params["embedding.weight"]
    untied = tiny_model(tie=False)
    assert untied.num_parameters() - tied.num_parameters() == VOCAB * 4

    # The same weights untied: the tied gradient is the sum of the two untied ones.
    untied.load_state_dict({**tied.state_dict()})
    inputs, targets = window()
    for model in (tied, untied):
        model.zero_grad()
        model.loss_and_backward(inputs, targets)
    np.testing.assert_allclose(
        tied.grads["embedding.weight"],
        untied.grads["embedding.weight"] + untied.grads["decoder.weight"],
        rtol=1e-12,
    )


def test_tied_state_dict_lists_the_table_under_both_names_and_loads_back() -> None:
    model = tiny_model(tie=True)
    state = model.state_dict()
    np.testing.assert_array_equal(state["decoder.weight"], state["embedding.weight"])
    other = LanguageModel(VOCAB, 4, 4, 2, tie_weights=True, dtype=np.float64, rng=5)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.params["embedding.weight"], state["embedding.weight"])
    # The alias may also be left out, as safetensors.torch.save_model does.
    other.load_state_dict({k: v for k, v in state.items() if k != "decoder.weight"})


def test_tying_needs_equal_embedding_and_hidden_sizes() -> None:
    with pytest.raises(ValueError, match="embedding size must equal the hidden size"):
        LanguageModel(VOCAB, embedding_size=3, hidden_size=4, tie_weights=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_across_windows_continues_the_sequence(cell: str) -> None:
    model = tiny_model(cell).eval()
    ids = np.random.default_rng(4).integers(0, VOCAB, (3, 9))
    whole, whole_state = model.forward(ids)
    first, state = model.forward(ids[:, :4])
    second, final_state = model.forward(ids[:, 4:], state)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(final_state), np.asarray(whole_state), rtol=1e-12)


def test_backward_stops_at_the_window_boundary() -> None:
    # The gradient of window 2's loss must not depend on what produced its initial state:
    # it is the same whether the state came from window 1 or was handed in as a constant.
    model = tiny_model()
    ids = np.random.default_rng(5).integers(0, VOCAB, (2, 11))
    model.zero_grad()
    _, state = model.forward(ids[:, :5])
    model.zero_grad()
    model.loss_and_backward(ids[:, 5:10], ids[:, 6:11], state)
    after_carry = {name: grad.copy() for name, grad in model.grads.items()}
    constant_state = tuple(s.copy() for s in state)
    model.zero_grad()
    model.loss_and_backward(ids[:, 5:10], ids[:, 6:11], constant_state)
    for name, grad in model.grads.items():
        np.testing.assert_array_equal(grad, after_carry[name])


def test_backward_with_logit_gradients_matches_loss_and_backward() -> None:
    from rnnkit.nn import softmax_cross_entropy

    model = tiny_model()
    inputs, targets = window()
    model.zero_grad()
    loss, _ = model.loss_and_backward(inputs, targets)
    fused = {name: grad.copy() for name, grad in model.grads.items()}
    model.zero_grad()
    logits, _ = model.forward(inputs)
    assert logits.shape == (*inputs.shape, VOCAB)
    separate_loss, grad_logits = softmax_cross_entropy(logits, targets)
    model.backward(grad_logits)
    assert separate_loss == pytest.approx(loss, rel=1e-12)
    for name, grad in model.grads.items():
        np.testing.assert_allclose(grad, fused[name], rtol=1e-10, atol=1e-14)


def test_dropout_masks_come_from_the_model_generator() -> None:
    def loss_with(model: LanguageModel) -> float:
        return model.loss_and_backward(*window())[0]

    model = tiny_model(dropout=0.5)
    saved = model.rng.bit_generator.state
    first = loss_with(model)
    assert loss_with(model) != first  # a new mask each window
    model.rng.bit_generator.state = saved
    assert loss_with(model) == first
    # Evaluation mode uses no mask and draws nothing.
    model.eval()
    before = model.rng.bit_generator.state
    model.loss(*window())
    assert model.rng.bit_generator.state == before


def test_init_range_draws_every_parameter_in_the_range() -> None:
    model = LanguageModel(50, 8, 8, 2, init_range=0.05, rng=0)
    for name, value in model.params.items():
        assert np.abs(value).max() <= 0.05, name
        assert np.abs(value).max() > 0.04, name  # really drawn, not left at zero
    default = LanguageModel(50, 8, 8, 2, rng=0)
    assert not default.params["decoder.bias"].any()
    assert np.abs(default.params["embedding.weight"]).max() <= 0.1


def test_greedy_generation_follows_the_forward_argmax() -> None:
    model = tiny_model("gru")
    prime = [1, 2, 3]
    tokens = list(model.generate(prime, length=8, temperature=0))
    assert not model.training
    sequence = np.array([prime + tokens])
    logits, _ = model.forward(sequence[:, :-1])
    expected = np.argmax(logits[0, len(prime) - 1 :], axis=-1)
    np.testing.assert_array_equal(tokens, expected)


def test_sampling_is_reproducible_from_the_seed() -> None:
    model = tiny_model()
    draw = lambda seed: list(model.generate([0], length=40, temperature=1.5, rng=seed))  # noqa: E731
    assert draw(7) == draw(7)
    assert draw(7) != draw(8)
    assert all(0 <= token < VOCAB for token in draw(9))
    # top_k=1 leaves only the most likely token: greedy whatever the seed.
    assert list(model.generate([0], 20, top_k=1, rng=3)) == list(model.generate([0], 20, 0))


def test_sample_token_keeps_to_the_top_k() -> None:
    logits = np.array([0.0, 3.0, 1.0, 2.9, -1.0])
    rng = np.random.default_rng(0)
    drawn = {sample_token(logits, 5.0, 2, rng) for _ in range(200)}
    assert drawn == {1, 3}
    everything = {sample_token(logits, 5.0, None, rng) for _ in range(400)}
    assert everything == {0, 1, 2, 3, 4}


def test_generate_rejects_bad_arguments() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="prime"):
        next(model.generate([], 5))
    with pytest.raises(ValueError, match="temperature"):
        next(model.generate([1], 5, temperature=-1))
    with pytest.raises(ValueError, match="top_k"):
        next(model.generate([1], 5, top_k=0))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_sample_token_draws_from_the_tempered_softmax(temperature: float) -> None:
    logits = np.array([0.0, 1.0, 2.0, -1.0])
    rng = np.random.default_rng(0)
    draws = 20_000
    counts = np.bincount([sample_token(logits, temperature, None, rng) for _ in range(draws)],
                         minlength=logits.size)  # fmt: skip
    expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
    # Four standard errors of a binomial proportion: fails by chance about once in 10^4.
    tolerance = 4 * np.sqrt(expected * (1 - expected) / draws)
    np.testing.assert_array_less(np.abs(counts / draws - expected), tolerance)


def test_the_noise_block_size_does_not_change_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Noise drawn in blocks is the generator's stream cut into rows: a new block per draw
    gives the same text, and a stale or reused block would not."""
    model = tiny_model()
    in_blocks = list(model.generate([0], length=600, temperature=1.0, rng=0))
    monkeypatch.setattr(language_model, "NOISE_BLOCK", 1)
    one_by_one = list(model.generate([0], length=600, temperature=1.0, rng=0))
    assert len(in_blocks) == 600
    assert in_blocks == one_by_one


@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, None), (0.0, None), (2.0, 1)])
def test_generate_never_draws_an_excluded_id(temperature: float, top_k: int | None) -> None:
    model = tiny_model()
    model.decoder.params["bias"][3] += 50.0  # id 3 is by far the likeliest
    drawn = list(model.generate([0], 60, temperature, top_k, rng=1))
    assert set(drawn) == {3}
    kept = list(model.generate([0], 60, temperature, top_k, rng=1, exclude=[3]))
    assert len(kept) == 60 and 3 not in kept
