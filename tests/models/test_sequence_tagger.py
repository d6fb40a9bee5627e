"""SequenceTagger: torch oracle without CRF (every gradient, with and without the character
encoder), finite differences with the CRF and dropout, padding invariance, decoding."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pytest

from rnnkit.models.char_word_encoder import WordChars, make_word_chars
from rnnkit.models.sequence_tagger import SequenceTagger, SequenceTaggerConfig
from tests.gradcheck import assert_close, check_with_fixed_masks

if TYPE_CHECKING:
    import torch

VOCAB, TAGS, CHARS = 9, 4, 6
LENGTHS = np.array([3, 5, 1, 4])  # unsorted, with a full-length row and a length-1 row


def make_model(chars: bool = True, **options: object) -> SequenceTagger:
    settings = dict(
        embedding_size=4,
        char_embedding_size=3,
        char_hidden_size=2 if chars else 0,
        char_vocab_size=CHARS if chars else 0,
        hidden_size=5,
        dropout=0.0,
        dtype=np.float64,
        rng=0,
    )
    settings.update(options)
    return SequenceTagger(VOCAB, TAGS, **settings)


def padded_batch(model: SequenceTagger, lengths: np.ndarray, seed: int = 1) -> tuple:
    """Random word ids padded with ``model.pad_id``, tags (-1 at padding), and the words'
    characters (each word id has its own fixed spelling, so repeated words share a row)."""
    rng = np.random.default_rng(seed)
    spellings = [rng.integers(0, CHARS, rng.integers(1, 5)) for _ in range(VOCAB)]
    ids = np.full((len(lengths), lengths.max()), model.pad_id)
    tags = np.full(ids.shape, -1)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(0, VOCAB, length)
        tags[row, :length] = rng.integers(0, TAGS, length)
    chars = None
    if model.char_hidden_size:
        words = [[spellings[w] for w in ids[row, :n]] for row, n in enumerate(lengths)]
        chars = make_word_chars(words, lengths.max(), pad_id=CHARS)
    return ids, tags, chars


def torch_layers(torch: ModuleType, model: SequenceTagger) -> torch.nn.ModuleDict:
    """The same layers in torch, holding ``model``'s weights under the same names."""
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[model.cell]
    features = model.embedding_size + 2 * model.char_hidden_size
    layers = {
        "embedding": torch.nn.Embedding(VOCAB + 1, model.embedding_size, padding_idx=VOCAB),
        "encoder": rnn(
            features, model.hidden_size, model.num_layers, bidirectional=model.bidirectional
        ),
        "output": torch.nn.Linear(model.encoder.num_directions * model.hidden_size, TAGS),
    }
    if model.char_hidden_size:
        layers["char_encoder"] = torch.nn.ModuleDict(
            {
                "embedding": torch.nn.Embedding(CHARS + 1, model.char_embedding_size, CHARS),
                "rnn": rnn(model.char_embedding_size, model.char_hidden_size, bidirectional=True),
            }
        )
    if model.use_crf:  # bare parameters under pytorch-crf's names; ``brute_force_crf`` reads them
        crf = torch.nn.Module()
        for name, value in model.crf.params.items():
            setattr(crf, name, torch.nn.Parameter(torch.zeros(value.shape)))
        layers["crf"] = crf
    modules = torch.nn.ModuleDict(layers).double()
    modules.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    return modules


def run_packed(torch: ModuleType, rnn, x, lengths: np.ndarray):
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x, torch.from_numpy(lengths), enforce_sorted=False
    )
    output, state = rnn(packed)
    output, _ = torch.nn.utils.rnn.pad_packed_sequence(output, total_length=x.shape[0])
    return output, state[0] if isinstance(state, tuple) else state


def torch_emissions(torch: ModuleType, layers, ids, lengths, chars: WordChars | None):
    """Emissions ``(T, B, K)`` of the tagger's forward pass, in torch."""
    x = layers["embedding"](torch.from_numpy(ids.T))
    if chars is not None:
        spelled = layers["char_encoder"]["embedding"](torch.from_numpy(chars.ids.T))
        _, h_n = run_packed(torch, layers["char_encoder"]["rnn"], spelled, chars.lengths)
        vectors = torch.cat([h_n[0], h_n[1]], dim=1)
        x = torch.cat([x, vectors[torch.from_numpy(chars.index.T)]], dim=2)
    output, _ = run_packed(torch, layers["encoder"], x, lengths)
    return layers["output"](output)


@pytest.mark.parametrize("chars", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_emissions_loss_and_every_gradient_match_torch(
    torch: ModuleType, cell: str, chars: bool
) -> None:
    model = make_model(chars, cell=cell, num_layers=2)
    ids, tags, word_chars = padded_batch(model, LENGTHS)
    model.zero_grad()
    loss = model.loss_and_backward(ids, LENGTHS, tags, word_chars)

    oracle = torch_layers(torch, model)
    emissions = torch_emissions(torch, oracle, ids, LENGTHS, word_chars)
    valid = torch.from_numpy(tags.T >= 0)
    torch_loss = torch.nn.functional.cross_entropy(
        emissions[valid], torch.from_numpy(tags.T)[valid]
    )
    torch_loss.backward()

    assert_close(model.forward(ids, LENGTHS, word_chars), emissions.transpose(0, 1))
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    torch_grads = dict(oracle.named_parameters())
    assert set(torch_grads) == set(model.grads)
    for name, grad in model.grads.items():
        assert_close(grad, torch_grads[name].grad, tol=1e-8)


@pytest.mark.parametrize("crf", [False, True])
def test_gradients_match_finite_differences_with_dropout(crf: bool) -> None:
    model = make_model(crf=crf, num_layers=2, dropout=0.3, cell="gru", hidden_size=3)
    ids, tags, chars = padded_batch(model, LENGTHS)
    names = ["embedding.weight", "char_encoder.rnn.weight_hh_l0_reverse", "output.bias"]
    names += ["encoder.weight_ih_l1_reverse"] + (["crf.transitions"] if crf else [])
    check_with_fixed_masks(
        model,
        lambda: model.loss_and_backward(ids, LENGTHS, tags, chars),
        lambda: model._loss(model.forward(ids, LENGTHS, chars), LENGTHS, tags)[0],
        names,
    )


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_row_alone_and_inside_a_padded_batch_agree(cell: str, crf: bool) -> None:
    model = make_model(cell=cell, crf=crf, num_layers=2)
    ids, _, chars = padded_batch(model, LENGTHS)
    batch_emissions = model.forward(ids, LENGTHS, chars)
    batch_tags = model.predict(ids, LENGTHS, chars)
    probe = np.random.default_rng(2).standard_normal(batch_emissions.shape)
    for row, length in enumerate(LENGTHS):
        words = [chars.ids[w, : chars.lengths[w]] for w in chars.index[row, :length]]
        alone, alone_chars = ids[row : row + 1, :length], make_word_chars([words], length, CHARS)
        emissions = model.forward(alone, None, alone_chars)
        assert_close(emissions, batch_emissions[row : row + 1, :length], tol=1e-13)
        assert np.array_equal(model.predict(alone, None, alone_chars)[0], batch_tags[row, :length])
        model.zero_grad()
        model.forward(alone, None, alone_chars)
        model.backward(probe[row : row + 1, :length])
        alone_grads = {k: g.copy() for k, g in model.grads.items()}

        # In the batch, only this row's real steps feed the probe loss.
        only_row = np.zeros_like(probe)
        only_row[row, :length] = probe[row, :length]
        model.zero_grad()
        model.forward(ids, LENGTHS, chars)
        model.backward(only_row)
        for name, grad in model.grads.items():
            assert_close(grad, alone_grads[name], tol=1e-12)


def test_padded_positions_add_nothing_to_the_loss() -> None:
    model = make_model(crf=True)
    ids, tags, chars = padded_batch(model, LENGTHS)
    loss = model.loss(ids, LENGTHS, tags, chars)
    tags[tags < 0] = 3  # any tag at padding
    ids[ids == model.pad_id] = 2  # any word too: the lengths decide
    assert model.loss(ids, LENGTHS, tags, chars) == pytest.approx(loss, rel=1e-14)


def test_predict_is_the_argmax_without_crf_and_viterbi_with_it() -> None:
    plain = make_model()
    ids, _, chars = padded_batch(plain, LENGTHS)
    emissions = plain.forward(ids, LENGTHS, chars)
    predicted = plain.predict(ids, LENGTHS, chars)
    valid = np.arange(LENGTHS.max())[None, :] < LENGTHS[:, None]
    assert np.array_equal(predicted[valid], emissions.argmax(axis=2)[valid])
    assert np.all(predicted[~valid] == -1)

    model = make_model(crf=True)
    model.crf.params["transitions"][...] = -1e3  # no tag may follow any tag but ...
    np.fill_diagonal(model.crf.params["transitions"], 0.0)  # itself: one tag per sentence
    predicted = model.predict(ids, LENGTHS, chars)
    for row, n in enumerate(LENGTHS):
        assert len(set(predicted[row, :n])) == 1
    assert np.array_equal(predicted, model.crf.decode(model.forward(ids, LENGTHS, chars), LENGTHS))


def test_the_model_learns_tags_of_unseen_words_from_their_spelling() -> None:
    # Tag 1 for words that start with char 0, tag 0 otherwise: the word ids are all one
    # unknown id, so only the character encoder can tell.
    from rnnkit.optim import Adam

    rng = np.random.default_rng(0)
    model = SequenceTagger(
        1,
        2,
        CHARS,
        embedding_size=2,
        char_embedding_size=4,
        char_hidden_size=4,
        hidden_size=6,
        dropout=0.0,
        dtype=np.float64,
        rng=0,
    )
    optimizer = Adam(model.params, model.grads, lr=0.05)

    def batch(size: int) -> tuple:
        words = [
            [list(rng.integers(0, CHARS, rng.integers(1, 4))) for _ in range(5)]
            for _ in range(size)
        ]
        tags = np.array([[int(w[0] == 0) for w in sentence] for sentence in words])
        return np.zeros((size, 5), dtype=np.int64), tags, make_word_chars(words, 5, CHARS)

    for _ in range(150):
        ids, tags, chars = batch(16)
        model.zero_grad()
        model.loss_and_backward(ids, None, tags, chars)
        optimizer.step()
    ids, tags, chars = batch(64)
    assert np.mean(model.predict(ids, None, chars) == tags) > 0.97


def test_config_round_trip_and_errors() -> None:
    model = make_model(crf=True, cell="gru", num_layers=2)
    rebuilt = SequenceTagger.from_config(model.config(), dtype=np.float64)
    assert rebuilt.config() == model.config()
    assert set(rebuilt.params) == set(model.params)
    assert "crf.transitions" in model.params
    assert SequenceTaggerConfig().char_hidden_size == 64
    with pytest.raises(ValueError, match="char_vocab_size"):
        SequenceTagger(VOCAB, TAGS, char_vocab_size=0, char_hidden_size=3)
    with pytest.raises(ValueError, match="chars"):
        make_model().forward(np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="chars"):
        make_model(chars=False).forward(np.zeros((1, 1), dtype=np.int64), None, chars=object())
