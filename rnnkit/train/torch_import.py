"""A PyTorch model's state dict as an rnnkit run folder (``rnnkit import-torch``).

The model is the common ``embedding -> nn.LSTM / nn.GRU / nn.RNN -> nn.Linear`` layout: a
language model (the linear layer reads every step's output, as in PyTorch's
word_language_model example) or a classifier (it reads the top layer's final state of each
direction, ``h_n[-1]`` or ``cat(h_n[-2], h_n[-1])``, rnnkit's ``last`` pooling; ``mean``,
``max`` and ``mean-max`` pooling can be named in the config). The parts are found by the
shapes of their tensors, whatever the attribute names (``embedding``, ``embed``,
``encoder`` for the table; ``rnn``, ``lstm``, ``gru``, ``encoder`` for the recurrent layer;
``fc``, ``decoder``, ``classifier``, ``out`` for the linear layer, under any prefix such
as ``module.``): the recurrent layer is the one with ``weight_ih_l0``; the table a lone
2-D ``weight`` as wide as its input; the linear layer a ``weight`` and ``bias`` that read
its outputs. The cell, sizes, layers and directions come from the recurrent weights, which
PyTorch and rnnkit name and order alike. An ``nn.RNN`` is taken to use its default tanh:
its ``nonlinearity`` is not in the state dict, and rnnkit's models have no ReLU RNN.

The config (JSON) gives what the weights cannot::

    {"tokenizer": {"kind": "char", "vocab": ["<unk>", " ", "a", ...]},  # id i = vocab[i]
     "labels": ["negative", "positive"],                               # classify: class i
     "pooling": "last"}                                                # classify, optional

(``"tokenizer": "char", "vocab": [...]`` is the same). The run is saved through the
task's settings dataclass and the checkpoint writer, so ``rnnkit sample``, ``predict``,
``eval`` and ``info`` read it as a trained run, without torch.

A ``.pt`` file is a pickle that only torch reads; a ``.safetensors`` file needs no torch.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import ConfigError, to_dict, validate
from rnnkit.data.tokenizers import EOS, UNK, Tokenizer, tokenizer_from_dict
from rnnkit.errors import SettingError, UserError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.models.sequence_classifier import POOLINGS, SequenceClassifier, SequenceClassifierConfig
from rnnkit.train.checkpoint import has_checkpoint, save_checkpoint
from rnnkit.train.rng import rng_state
from rnnkit.train.run_config import RUN_FORMAT, RUN_VERSION
from rnnkit.train.tasks.classifier import ClassifierRun
from rnnkit.train.tasks.language_model import LanguageModelRun
from rnnkit.train.trainer import TrainingProgress
from rnnkit.weights import sha256_hex

IMPORT_TASKS = ("lm", "classify")
CELLS = {4: "lstm", 3: "gru", 1: "rnn"}  # gate blocks per weight -> the cell
RECURRENT_NAME = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a state dict saved by ``torch.save`` (needs torch) or as safetensors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} is not a file; give a state dict saved as .pt or .safetensors")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as error:  # safetensors raises its own error types
            raise UserError(f"{path} is no safetensors file ({error})") from None
    else:
        tensors = _read_torch_file(path)
    return {name: np.asarray(value, dtype=np.float32) for name, value in tensors.items()}


def _read_torch_file(path: Path) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        raise UserError(
            f"{path} is a torch pickle, which only torch reads, and torch is not installed: "
            "install torch, or save the state dict with safetensors.torch.save_file"
        ) from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is no state dict
        # torch's own message is a paragraph (with terminal colour codes) that advises
        # weights_only=False, which this command never uses: name the fix instead
        raise UserError(
            f"{path} does not load as a torch state dict ({type(error).__name__}): it is not "
            "a torch.save file, or it holds a whole pickled model; save the tensors with "
            "torch.save(model.state_dict(), FILE) or safetensors.torch.save_file"
        ) from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]  # a training checkpoint that holds one
    if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
        raise UserError(f"{path} holds no state dict (a mapping of names to tensors)")
    return {name: value.detach().float().numpy() for name, value in loaded.items()}


def read_import_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a JSON object with a tokenizer, got {config!r:.60}")
    return config


def config_tokenizer(
    config: dict[str, Any], source: str, kinds: tuple[str, ...]
) -> tuple[Tokenizer, list[int | None]]:
    """The tokenizer the import config describes, and for each of its ids the embedding row
    of the torch model (None: a row the model lacks).

    A word vocabulary of rnnkit starts with ``<eos>`` and ``<unk>``: one that does not is
    reordered so (the rows follow), a missing one gets a row of its own. A character (or
    jamo) vocabulary is ``<unk>`` then the characters in sorted order: one in another order
    (say, the order of first appearance) is sorted so, the rows following."""
    entry = config.get("tokenizer")
    if isinstance(entry, str):
        entry = {"kind": entry, "vocab": config.get("vocab")}
    if not isinstance(entry, dict) or not isinstance(entry.get("vocab"), list):
        raise UserError(
            f'{source}: expected a tokenizer, e.g. "tokenizer": {{"kind": "char", '
            '"vocab": [...]}, the tokens in the order of the embedding\'s rows'
        )
    if entry.get("kind") not in kinds:
        raise UserError(
            f"{source}: tokenizer kind {entry.get('kind')!r}: expected one of {', '.join(kinds)}"
        )
    vocab = entry["vocab"]
    if not all(isinstance(token, str) for token in vocab) or len(set(vocab)) != len(vocab):
        raise UserError(f"{source}: the tokenizer's vocab must be distinct strings")
    rows: list[int | None] = list(range(len(vocab)))
    if entry["kind"] == "word" and vocab[:2] != [EOS, UNK]:
        rest = [i for i, token in enumerate(vocab) if token not in (EOS, UNK)]
        rows = [vocab.index(t) if t in vocab else None for t in (EOS, UNK)] + rest
        entry = {**entry, "vocab": [EOS, UNK, *(vocab[i] for i in rest)]}
    elif entry["kind"] in ("char", "jamo"):
        head = [vocab.index(UNK)] if UNK in vocab else []
        characters = (i for i in range(len(vocab)) if vocab[i] != UNK)
        rows = head + sorted(characters, key=vocab.__getitem__)
        entry = {**entry, "vocab": [vocab[i] for i in rows]}
    try:
        return tokenizer_from_dict(entry), rows
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{source}: the tokenizer does not load ({error})") from None


class Layout:
    """The parts of a torch state dict: embedding, recurrent layer, linear head."""

    def __init__(self, state: dict[str, np.ndarray], source: str, title: str) -> None:
        self.state, self.source, self.title = state, source, title
        self.problems: list[str] = []
        groups: dict[str, dict[str, np.ndarray]] = {}
        for name, value in state.items():
            prefix, _, leaf = name.rpartition(".")
            groups.setdefault(prefix, {})[leaf] = value
        recurrent = [p for p, g in groups.items() if "weight_ih_l0" in g]
        if len(recurrent) != 1:
            found = ", ".join(recurrent) or "none"
            self.fail(f"expected one nn.LSTM/GRU/RNN (keys *.weight_ih_l0), found {found}")
        self.rnn_prefix = recurrent[0]
        rnn = groups.pop(self.rnn_prefix)
        self.rnn = rnn
        self._read_recurrent(rnn)
        self.groups = groups

    def fail(self, problem: str) -> None:
        raise UserError(f"{self.source} does not fit a {self.title}: {problem}")

    def _read_recurrent(self, rnn: dict[str, np.ndarray]) -> None:
        odd = sorted(f"{self.rnn_prefix}.{k}" for k in rnn if not RECURRENT_NAME.match(k))
        if odd:
            self.fail(f"unexpected keys {', '.join(odd)}")
        w_ih, w_hh = rnn["weight_ih_l0"], rnn.get("weight_hh_l0")
        if w_hh is None or w_hh.ndim != 2 or w_ih.ndim != 2 or w_hh.shape[0] % w_hh.shape[1]:
            self.fail(f"{self.rnn_prefix}.weight_hh_l0 is missing or not (gates*H, H)")
        self.hidden_size = w_hh.shape[1]
        gates = w_hh.shape[0] // self.hidden_size
        if gates not in CELLS:
            self.fail(f"{self.rnn_prefix}.weight_hh_l0 {w_hh.shape}: {gates} gates")
        self.cell = CELLS[gates]
        self.input_size = w_ih.shape[1]
        self.num_layers = 1 + max(int(RECURRENT_NAME.match(k).group(3)) for k in rnn)
        self.bidirectional = any(k.endswith("_reverse") for k in rnn)
        if "bias_ih_l0" not in rnn:
            self.fail(f"{self.rnn_prefix} has no biases (bias=False), which rnnkit's models have")

    def take(self, leaves: set[str], test: Any, what: str) -> tuple[str, dict[str, np.ndarray]]:
        """The one group with exactly LEAVES whose tensors pass TEST, removed from the rest."""
        found = [p for p, g in self.groups.items() if set(g) == leaves and test(g)]
        if len(found) != 1:
            self.fail(f"expected one {what}, found {', '.join(found) or 'none'}")
        return found[0], self.groups.pop(found[0])

    def check_rest(self) -> None:
        rest = sorted(f"{p}.{leaf}" if p else leaf for p, g in self.groups.items() for leaf in g)
        if rest:
            self.fail(f"unexpected keys {', '.join(rest)}")

    def recurrent_params(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.{leaf}": value for leaf, value in self.rnn.items()}


def import_torch(
    state_path: str | Path, task: str, config_path: str | Path, out: str | Path
) -> Path:
    """Write the torch state dict in STATE_PATH as a run folder OUT of TASK (lm, classify),
    with the tokenizer (and labels) of the JSON file CONFIG_PATH; returns OUT."""
    if task not in IMPORT_TASKS:
        raise SettingError(f"task {task!r}: import takes one of {', '.join(IMPORT_TASKS)}", "task")
    out = Path(out)
    if has_checkpoint(out):
        raise UserError(f"{out} already holds a run; choose another folder")
    state = read_state_dict(state_path)
    config = read_import_config(config_path)
    build = import_language_model if task == "lm" else import_classifier
    model, run, extra = build(state, config, str(state_path), str(config_path))
    data = Path(state_path).read_bytes()
    record = {
        "format": RUN_FORMAT,
        "version": RUN_VERSION,
        "task": task,
        "config": to_dict(run),
        "data_sha256": None,  # trained elsewhere: no data of rnnkit's to fingerprint
        "imported_from": {"file": str(Path(state_path).resolve()), "sha256": sha256_hex(data)},
        "progress": {**asdict(TrainingProgress()), "lr": run.training.lr},
        "rng": rng_state(model.rng),
        **extra,
    }
    save_checkpoint(out, record, {"model": model.state_dict()})
    return out


def _rows(table: np.ndarray, rows: list[int | None], fill: float = 0.0) -> np.ndarray:
    """TABLE's rows (or entries) in the order ROWS lists; FILL where a row is missing."""
    result = np.full((len(rows), *table.shape[1:]), fill, np.float32)
    for index, row in enumerate(rows):
        if row is not None:
            result[index] = table[row]
    return result


def _loaded(model: Any, weights: dict[str, np.ndarray], layout: Layout) -> Any:
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as error:
        layout.fail(" ".join(str(error).split()))
    return model.eval()


def _validated(run: Any, source: str) -> Any:
    try:
        validate(run)
    except ConfigError as error:
        raise UserError(f"{source}: setting {error}") from None
    return run


def import_language_model(
    state: dict[str, np.ndarray], config: dict[str, Any], source: str, config_source: str
) -> tuple[LanguageModel, LanguageModelRun, dict[str, Any]]:
    layout = Layout(state, source, "language model (embedding -> rnn -> linear)")
    if layout.bidirectional:
        layout.fail(f"{layout.rnn_prefix} is bidirectional, which a language model cannot be")
    E, H = layout.input_size, layout.hidden_size
    embedding_prefix, embedding = layout.take(
        {"weight"}, lambda g: g["weight"].ndim == 2 and g["weight"].shape[1] == E, "embedding"
    )
    head_prefix, head = layout.take(
        {"weight", "bias"},
        lambda g: g["weight"].ndim == 2 and g["weight"].shape[1] == H,
        f"linear layer reading the {H} outputs",
    )
    layout.check_rest()
    tokenizer, rows = config_tokenizer(config, config_source, ("char", "word", "jamo"))
    sizes = {
        f"{embedding_prefix}.weight rows": embedding["weight"].shape[0],
        f"{head_prefix}.weight rows": head["weight"].shape[0],
    }
    wrong = [f"{name} {count}" for name, count in sizes.items() if count != len(rows)]
    wrong += [] if None not in rows else [f"no {EOS} and {UNK} in the word vocabulary"]
    if wrong:
        layout.fail(f"{', '.join(wrong)} for a vocabulary of {len(rows)} tokens")
    V = tokenizer.vocab_size
    run = LanguageModelRun()
    run.data.tokenizer = tokenizer.kind
    run.model = LanguageModelConfig(
        vocab_size=V, embedding_size=E, hidden_size=H, num_layers=layout.num_layers,
        cell=layout.cell,
    )  # fmt: skip
    _validated(run, config_source)
    weights = {
        "embedding.weight": _rows(embedding["weight"], rows),
        **layout.recurrent_params("rnn"),
        "decoder.weight": _rows(head["weight"], rows),
        "decoder.bias": _rows(head["bias"], rows),
    }
    model = _loaded(LanguageModel.from_config(run.model), weights, layout)
    return model, run, {"tokenizer": tokenizer.to_dict()}


def import_classifier(
    state: dict[str, np.ndarray], config: dict[str, Any], source: str, config_source: str
) -> tuple[SequenceClassifier, ClassifierRun, dict[str, Any]]:
    layout = Layout(state, source, "classifier (embedding -> rnn -> linear)")
    pooling = config.get("pooling", "last")
    if pooling not in POOLINGS:
        raise UserError(f"{config_source}: pooling {pooling!r}: expected one of {POOLINGS}")
    E, H = layout.input_size, layout.hidden_size
    features = (2 if layout.bidirectional else 1) * H * (2 if pooling == "mean-max" else 1)
    embedding_prefix, embedding = layout.take(
        {"weight"}, lambda g: g["weight"].ndim == 2 and g["weight"].shape[1] == E, "embedding"
    )
    _, head = layout.take(
        {"weight", "bias"},
        lambda g: g["weight"].ndim == 2 and g["weight"].shape[1] == features,
        f"linear layer reading the {features} pooled features ({pooling} pooling)",
    )
    layout.check_rest()
    tokenizer, rows = config_tokenizer(config, config_source, ("word", "char"))
    C = head["weight"].shape[0]
    V = embedding["weight"].shape[0]
    labels = config.get("labels")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise UserError(f'{config_source}: expected "labels": the class names, class i first')
    if len(set(labels)) != len(labels):
        raise UserError(f"{config_source}: the labels must be distinct")
    wrong = []
    listed = sum(row is not None for row in rows)  # the tokens the config lists
    if listed != V:
        wrong.append(f"{embedding_prefix}.weight rows {V} for {listed} tokens")
    if len(labels) != C:
        wrong.append(f"{C} classes for {len(labels)} labels")
    if wrong:
        layout.fail(", ".join(wrong))
    run = ClassifierRun()
    run.data.tokenizer = tokenizer.kind
    run.model = SequenceClassifierConfig(
        vocab_size=tokenizer.vocab_size, num_classes=C, embedding_size=E, hidden_size=H,
        num_layers=layout.num_layers, cell=layout.cell, bidirectional=layout.bidirectional,
        pooling=pooling,
    )  # fmt: skip
    _validated(run, config_source)
    # A missing <eos> or <unk> reads as zeros; the padding row (id vocab_size) is zeros.
    table = _rows(embedding["weight"], [*rows, None])
    weights = {
        "embedding.weight": table,
        **layout.recurrent_params("encoder"),
        "classifier.weight": head["weight"],
        "classifier.bias": head["bias"],
    }
    model = _loaded(SequenceClassifier.from_config(run.model), weights, layout)
    return model, run, {"tokenizer": tokenizer.to_dict(), "labels": list(labels)}
