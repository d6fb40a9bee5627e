"""``rnnkit import-torch``: a torch-trained model gives the same outputs in rnnkit, and the
imported folder works with sample, predict, eval and info (without torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnkit.train.tasks.classifier import load_classifier
from rnnkit.train.tasks.language_model import load_language_model
from tests.cli.cli_helpers import assert_one_line_error, run_cli, sentences

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

nn = torch.nn
TEXT = sentences(40)
CHARS = ["<unk>", *sorted(set(TEXT))]


class TorchLM(nn.Module):  # the names of PyTorch's word_language_model example
    def __init__(self, kind: type, vocab: int) -> None:
        super().__init__()
        self.encoder = nn.Embedding(vocab, 8)
        self.rnn = kind(8, 12, num_layers=2, batch_first=True)
        self.decoder = nn.Linear(12, vocab)

    def forward(self, ids):
        return self.decoder(self.rnn(self.encoder(ids))[0])


class TorchClassifier(nn.Module):
    def __init__(self, kind: type, vocab: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 6, padding_idx=0)
        self.lstm = kind(6, 7, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(14, 3)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(ids), lengths, batch_first=True, enforce_sorted=False
        )
        h = self.lstm(packed)[1]
        h = h[0] if isinstance(h, tuple) else h
        return self.fc(torch.cat([h[-2], h[-1]], dim=1))


def train_a_few_steps(model: nn.Module, loss_of) -> None:
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        loss_of(model).backward()
        optimizer.step()
    model.eval()


def char_ids(text: str) -> list[int]:
    return [CHARS.index(c) if c in CHARS else 0 for c in text]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("format", [".pt", ".safetensors"])
def test_language_model_matches_torch_and_samples(tmp_path: Path, kind: str, format: str) -> None:
    torch.manual_seed(1)
    model = TorchLM(getattr(nn, kind), len(CHARS))
    data = torch.tensor([char_ids(TEXT[:400])]).reshape(4, 100)

    def loss(m):
        logits = m(data[:, :-1])
        return nn.functional.cross_entropy(logits.reshape(-1, len(CHARS)), data[:, 1:].reshape(-1))

    train_a_few_steps(model, loss)
    state = tmp_path / f"lm{format}"
    if format == ".pt":
        torch.save(model.state_dict(), state)
    else:
        save_file(model.state_dict(), str(state))
    config = tmp_path / "chars.json"
    config.write_text(json.dumps({"tokenizer": {"kind": "char", "vocab": CHARS}}))
    run = tmp_path / "run"
    status, out, err = run_cli(
        "import-torch", state, "--task", "lm", "--config", config, "--out", run
    )
    assert status == 0, err
    assert f"a language-model run imported from {state}" in out
    ours, tokenizer, _ = load_language_model(run)
    ids = tokenizer.encode("the cat sat on the mat .\na dog")[None]
    with torch.no_grad():
        expected = model(torch.tensor(ids)).numpy()
    np.testing.assert_allclose(ours.forward(ids)[0], expected, rtol=1e-5, atol=1e-5)
    status, out, err = run_cli("sample", run, "--prime", "the ", "--length", "30", "--seed", "0")
    assert status == 0 and out.startswith("the "), err
    text = tmp_path / "valid.txt"
    text.write_text(TEXT[400:800], encoding="utf-8")
    status, out, err = run_cli("eval", run, "--data", text, "--json")
    assert status == 0, err
    assert json.loads(out)["loss"] > 0
    status, out, err = run_cli("info", run)
    assert status == 0 and "a language-model run" in out, err


def test_a_character_vocabulary_in_any_order_imports(tmp_path: Path) -> None:
    # A torch char model often numbers its characters in order of first appearance, with
    # <unk> anywhere: the import sorts them as rnnkit's vocabulary does, the rows following.
    chars = list(dict.fromkeys(TEXT))
    chars.insert(3, "<unk>")
    assert chars[1:] != sorted(chars[1:])
    torch.manual_seed(3)
    model = TorchLM(nn.LSTM, len(chars))
    save_file(model.state_dict(), str(tmp_path / "lm.safetensors"))
    config = tmp_path / "chars.json"
    config.write_text(json.dumps({"tokenizer": {"kind": "char", "vocab": chars}}))
    run = tmp_path / "run"
    status, _, err = run_cli(
        "import-torch", tmp_path / "lm.safetensors", "--task", "lm", "--config", config,
        "--out", run,
    )  # fmt: skip
    assert status == 0, err
    ours, tokenizer, _ = load_language_model(run)
    text = "the cat sat on the mat ."
    with torch.no_grad():
        expected = model(torch.tensor([[chars.index(c) for c in text]])).numpy()[0]
    # The same characters under rnnkit's ids: compare the logits character by character.
    got = ours.forward(tokenizer.encode(text)[None])[0][0]
    order = [tokenizer.vocab.index(c) for c in chars]
    np.testing.assert_allclose(got[:, order], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_classifier_matches_torch_on_padded_batches_and_predicts(tmp_path: Path, kind: str) -> None:
    words = ["<pad>", "<unk>", "good", "bad", "film", "very", "not", "a"]
    torch.manual_seed(2)
    model = TorchClassifier(getattr(nn, kind), len(words))
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(1, len(words), size=(6, 5)))
    lengths = torch.tensor([5, 2, 3, 1, 4, 5])
    ids[torch.arange(5)[None, :] >= lengths[:, None]] = 0
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    train_a_few_steps(model, lambda m: nn.functional.cross_entropy(m(ids, lengths), targets))
    state = tmp_path / "clf.safetensors"
    save_file(model.state_dict(), str(state))
    config = tmp_path / "clf.json"
    config.write_text(
        json.dumps({"tokenizer": "word", "vocab": words, "labels": ["neg", "neutral", "pos"]})
    )
    run = tmp_path / "run"
    status, _, err = run_cli(
        "import-torch", state, "--task", "classify", "--config", config, "--out", run
    )
    assert status == 0, err
    trained = load_classifier(run)
    with torch.no_grad():
        expected = model(ids, lengths).numpy()
    # rnnkit's word ids start with <eos> and <unk>: the same words, other numbers.
    ours = np.vectorize(lambda i: trained.tokenizer.vocab.index(words[i]))(ids.numpy())
    got = trained.model.forward(ours, lengths.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    status, out, err = run_cli("predict", "--json", run, "a very good film")
    assert status == 0, err
    answer = json.loads(out)
    assert answer["label"] in ("neg", "neutral", "pos")
    row = [words.index(w) for w in ["a", "very", "good", "film"]]
    with torch.no_grad():
        best = model(torch.tensor([row]), torch.tensor([4])).argmax().item()
    assert answer["label"] == ["neg", "neutral", "pos"][best]


def test_the_imported_folder_needs_no_torch(tmp_path: Path) -> None:
    model = TorchLM(nn.LSTM, len(CHARS))
    save_file(model.state_dict(), str(tmp_path / "lm.safetensors"))
    (tmp_path / "c.json").write_text(json.dumps({"tokenizer": "char", "vocab": CHARS}))
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from rnnkit.cli.main import main\n"
        f"assert main(['import-torch', {str(tmp_path / 'lm.safetensors')!r}, '--task', 'lm', "
        f"'--config', {str(tmp_path / 'c.json')!r}, '--out', {str(tmp_path / 'run')!r}]) == 0\n"
        f"sys.exit(main(['sample', {str(tmp_path / 'run')!r}, '--length', '20']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # A .pt file without torch: one line that says so.
    torch.save(model.state_dict(), tmp_path / "lm.pt")
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from rnnkit.cli.main import main\n"
        f"sys.exit(main(['import-torch', {str(tmp_path / 'lm.pt')!r}, '--task', 'lm', "
        f"'--config', {str(tmp_path / 'c.json')!r}, '--out', {str(tmp_path / 'run2')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert_one_line_error(done.returncode, done.stderr, "torch is not installed", "lm.pt")


def test_mismatched_keys_and_shapes_are_one_line(tmp_path: Path) -> None:
    model = TorchLM(nn.GRU, len(CHARS))
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"tokenizer": "char", "vocab": CHARS}))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["extra.running_mean"] = torch.zeros(3)
    save_file(state, str(tmp_path / "extra.safetensors"))
    status, _, err = run_cli(
        "import-torch", tmp_path / "extra.safetensors", "--task", "lm", "--config", config,
        "--out", tmp_path / "a",
    )  # fmt: skip
    assert_one_line_error(status, err, "unexpected keys extra.running_mean")
    short = tmp_path / "short.json"
    short.write_text(json.dumps({"tokenizer": "char", "vocab": CHARS[:-2]}))
    save_file(model.state_dict(), str(tmp_path / "lm.safetensors"))
    status, _, err = run_cli(
        "import-torch", tmp_path / "lm.safetensors", "--task", "lm", "--config", short,
        "--out", tmp_path / "b",
    )  # fmt: skip
    assert_one_line_error(status, err, f"encoder.weight rows {len(CHARS)}", "decoder.weight rows")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("content", ["a whole model", "empty"])
def test_a_file_torch_cannot_load_names_the_fix(tmp_path: Path, content: str) -> None:
    state = tmp_path / "model.pt"
    if content == "empty":
        state.write_bytes(b"")
    else:  # torch.save(model): a pickled module that weights_only loading refuses
        torch.save(TorchLM(nn.GRU, len(CHARS)), state)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"tokenizer": "char", "vocab": CHARS}))
    status, _, err = run_cli(
        "import-torch", state, "--task", "lm", "--config", config, "--out", tmp_path / "run"
    )
    assert_one_line_error(status, err, "model.pt does not load", "torch.save(model.state_dict()")
    assert "weights_only" not in err and "\x1b" not in err and "dict ()" not in err
    assert not (tmp_path / "run").exists()
