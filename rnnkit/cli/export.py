"""``rnnkit export DIR --onnx FILE``: a trained model as an ONNX model, for any runtime.

The graph is built with the ``onnx`` package alone (``pip install 'rnnkit[onnx]'``) from
ONNX's own ``LSTM``, ``GRU`` and ``RNN`` operators, float32, with a dynamic batch size and
sequence length; ``rnnkit.train.onnx_export`` lists each model's inputs and outputs.
"""

from __future__ import annotations

import argparse

from rnnkit.cli.arguments import add_model_command
from rnnkit.train.onnx_export import export_run
from rnnkit.train.tasks import TASKS

NAME = "export"

EPILOG = """\
inputs and outputs (B batch, T steps, L layers, H hidden size; ids are int64):
  lm        ids (B, T), h0 (L, B, H) [, c0]  ->  logits (B, T, V), h_n [, c_n]
            (T = 1 with the state fed back is one sampling step)
  classify  ids (B, T), lengths (B,)  ->  logits (B, C), probabilities (B, C)
  tag       ids (B, T), lengths (B,) [, char_ids (N, C), char_lengths (N,),
            char_index (B, T)]  ->  emissions (B, T, K), tags (B, T)
  seq2seq   FILE.encoder.onnx: src (B, S), src_lengths (B,)  ->  memory [, keys]
            [, summary], h0 [, c0];  FILE.decoder.onnx: one step, tokens (B,) and the
            state  ->  log_probs (B, V), h_out [, c_out] [, feed_out] [, attention]
  forecast  past_target (B, lookback, S) [, past_covariates] [, future_covariates]
            ->  raw (B, horizon, S, P), the distribution's parameters; in the units
            the model trained in: the run's scaling, log and differencing (its
            config.json "transforms") are the caller's to apply and undo, and the
            calendar features are among the future covariates

Refused, with the option named: a tagger's --crf (Viterbi decoding), a forecaster's
--decoder autoregressive (random draws fed back) and its --window-scale or
--window-mean. A conditioned generator (task generate) has no export.

example:
  rnnkit export runs/shakespeare --onnx shakespeare.onnx
  python -c "import onnxruntime as ort; print(ort.InferenceSession('shakespeare.onnx')\
.get_inputs())"
"""


HELP = "write a trained model as ONNX (native LSTM/GRU/RNN operators)"
DESCRIPTION = (
    "Write the model of a run folder as an ONNX model that onnxruntime and other ONNX "
    "runtimes run without rnnkit: float32, dynamic batch size and sequence length, ONNX's "
    "native recurrent operators. Needs the onnx package (pip install 'rnnkit[onnx]'), "
    "not torch."
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    layout = argparse.RawDescriptionHelpFormatter
    parser = add_model_command(
        subparsers, NAME, HELP, DESCRIPTION, epilog=EPILOG, formatter_class=layout
    )
    parser.add_argument(
        "--onnx",
        metavar="FILE",
        required=True,
        help="the ONNX file to write, in a folder that exists (a seq2seq model writes "
        "FILE's stem + .encoder.onnx and .decoder.onnx)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    task, paths = export_run(args.folder, args.onnx)
    written = ", ".join(str(p) for p in paths)
    print(f"wrote the {TASKS[task].title} of {args.folder}: {written}")
    return 0
