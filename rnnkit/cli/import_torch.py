"""``rnnkit import-torch STATE --task lm|classify --config CFG --out DIR``: a PyTorch
model's state dict as a run folder that ``sample``, ``predict``, ``eval`` and ``info``
read without torch (``rnnkit.train.torch_import`` describes the layouts it takes)."""

from __future__ import annotations

import argparse

from rnnkit.train.tasks import a_run_of
from rnnkit.train.torch_import import IMPORT_TASKS, import_torch

NAME = "import-torch"
HELP = "turn a PyTorch embedding -> LSTM/GRU/RNN -> linear state dict into a run folder"
DESCRIPTION = (
    "Turn the state dict of a PyTorch language model or classifier (nn.Embedding -> "
    "nn.LSTM, nn.GRU or nn.RNN -> nn.Linear) into a run folder that rnnkit sample, predict "
    "and eval use without torch. The parts are found by their tensors' shapes, whatever "
    "their names (embedding/encoder, rnn/lstm/gru/encoder, fc/decoder/classifier...); the "
    "cell, sizes, layers and directions come from the recurrent weights. An nn.RNN is read "
    "with its default tanh: the state dict does not say nonlinearity='relu', so a ReLU RNN "
    "would import as another model. A .pt file needs torch to read; a .safetensors file "
    "does not."
)
EPILOG = """\
the --config file (JSON):
  {"tokenizer": {"kind": "char", "vocab": ["<unk>", " ", "a", "b", ...]},
   "labels": ["neg", "pos"],      (classify: the name of class 0, 1, ...)
   "pooling": "last"}             (classify, optional: last, mean, max, mean-max)
  vocab[i] is the token of embedding row i; a word vocabulary ("kind": "word") should
  hold "<unk>" (unknown words) and, for a language model, "<eos>" (line ends).
  "last" pooling is h_n[-1] of a one-way model, cat(h_n[-2], h_n[-1]) of a two-way one.

examples:
  python -c "import torch, safetensors.torch as st; \\
      st.save_file(torch.load('lm.pt'), 'lm.safetensors')"      (no torch needed after)
  rnnkit import-torch lm.pt --task lm --config chars.json --out runs/from-torch
  rnnkit sample runs/from-torch --prime "ROMEO:"
  rnnkit import-torch clf.safetensors --task classify --config clf.json --out runs/clf
  rnnkit predict runs/clf "a fine film"
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    layout = argparse.RawDescriptionHelpFormatter
    parser = subparsers.add_parser(
        NAME, help=HELP, description=DESCRIPTION, epilog=EPILOG, formatter_class=layout
    )
    parser.add_argument("state", metavar="STATE", help="the state dict: .pt or .safetensors")
    parser.add_argument("--task", required=True, choices=IMPORT_TASKS, help="the model's task")
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        help="JSON: the tokenizer (kind and vocab in embedding-row order), and for classify "
        "the labels and optionally the pooling",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="the run folder to write")
    return parser


def run(args: argparse.Namespace) -> int:
    folder = import_torch(args.state, args.task, args.config, args.out)
    print(f"wrote {folder}: {a_run_of(args.task)} imported from {args.state}")
    return 0
