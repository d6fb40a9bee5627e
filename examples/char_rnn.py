"""Char-RNN: a stacked LSTM learns to write like Shakespeare, one character at a time.

Karpathy's "The Unreasonable Effectiveness of Recurrent Neural Networks" (2015), with
rnnkit's library: the text is cut into ``batch`` streams read side by side, ``seq_len``
characters at a time (truncated backpropagation through time). The hidden state is carried
from one window to the next, so the model sees an unbroken text, while the gradient stops at
the window's start. After training it writes samples at three temperatures: low is safe and
repetitive, high is inventive and misspelt.

The run is kept in a checkpoint folder (weights, optimizer, the carried state, the step,
the settings), and ``--resume`` continues it exactly where it stopped, with the settings
and the part of the text it was trained on (``--quick`` or not).

    python examples/char_rnn.py --steps 2000 --out runs/char_rnn
    python examples/char_rnn.py --steps 4000 --out runs/char_rnn --resume
    python examples/char_rnn.py --quick            # a few seconds, for a first look

The text is ``--data``, or Tiny Shakespeare when ``../shared/data/tinyshakespeare/input.txt``
(beside this repository) exists; otherwise a short embedded passage, and it says so.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rnnkit import load_weights, save_weights
from rnnkit.ctrl_c import stop_quietly_on_ctrl_c
from rnnkit.data.lm_batches import StreamBatcher
from rnnkit.data.tokenizers import make_tokenizer, tokenizer_from_dict
from rnnkit.models import LanguageModel
from rnnkit.optim import Adam, clip_grad_norm

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared/data/tinyshakespeare/input.txt"
EMBEDDED = """\
First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?

All:
Resolved. resolved.

First Citizen:
First, you know Caius Marcius is chief enemy to the people.

All:
We know't, we know't.

First Citizen:
Let us kill him, and we'll have corn at our own price.
Is't a verdict?

All:
No more talking on't; let it be done: away, away!
"""
TEMPERATURES = (0.5, 1.0, 1.5)
QUICK = {"hidden_size": 64, "batch_size": 8, "seq_len": 32, "log_every": 20}
QUICK_CHARS = 50_000  # --quick reads only the start of the text


def read_text(path: str | None, max_chars: int | None) -> str:
    """The first MAX_CHARS characters of PATH (all of them if None); without PATH, Tiny
    Shakespeare, or the embedded passage when that file is absent."""
    if path is None and not SHAKESPEARE.is_file():
        print(f"{SHAKESPEARE} not found: a short passage of it instead")
        text = EMBEDDED * 8
    else:
        text = Path(path or SHAKESPEARE).read_text("utf-8")
    return text[:max_chars] if max_chars else text


def save(folder: Path, model, optimizer, state, step: int, tokenizer, settings: dict) -> None:
    """The whole run: weights, Adam's moments, the carried (h, c), where it stopped and the
    settings it trained with (a resume needs the same shapes and the same text)."""
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(folder / "model.safetensors", model.state_dict())
    save_weights(folder / "optimizer.safetensors", optimizer.state_dict())
    save_weights(folder / "state.safetensors", {"h": state[0], "c": state[1]})
    record = {"step": step, "tokenizer": tokenizer.to_dict(), "settings": settings}
    (folder / "run.json").write_text(json.dumps(record), "utf-8")


def train(
    text: str,
    steps: int,
    out: Path,
    resume: bool = False,
    hidden_size: int = 256,
    num_layers: int = 2,
    batch_size: int = 32,
    seq_len: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    log_every: int = 100,
) -> dict:
    """Train (or continue) the run in OUT up to STEPS steps; return losses and samples.

    A resumed run must be given the settings and the text it was started with: OUT's
    ``run.json`` records them (``main`` reads them back).
    """
    settings = {
        "hidden_size": hidden_size, "num_layers": num_layers, "batch_size": batch_size,
        "seq_len": seq_len, "lr": lr, "seed": seed, "log_every": log_every, "chars": len(text),
    }  # fmt: skip
    if resume:
        record = json.loads((out / "run.json").read_text("utf-8"))
        tokenizer, start = tokenizer_from_dict(record["tokenizer"]), record["step"]
    else:
        tokenizer, start = make_tokenizer("char").fit(text), 0
    model = LanguageModel(
        tokenizer.vocab_size, embedding_size=64, hidden_size=hidden_size,
        num_layers=num_layers, cell="lstm", rng=seed,
    )  # fmt: skip
    optimizer = Adam(model.params, model.grads, lr=lr)
    batcher = StreamBatcher(tokenizer.encode(text), batch_size, seq_len)
    state = None  # zeros: the start of every stream
    if resume:
        model.load_state_dict(load_weights(out / "model.safetensors"))
        optimizer.load_state_dict(load_weights(out / "optimizer.safetensors"))
        saved = load_weights(out / "state.safetensors")
        state = (saved["h"], saved["c"])

    losses = []
    for step in range(start, steps):
        window = step % len(batcher)
        if window == 0:
            state = None  # a new pass over the text starts every stream afresh
        inputs, targets = batcher.window(window)
        model.zero_grad()
        # The state the last window ended in goes in; nothing flows back into it.
        loss, state = model.loss_and_backward(inputs, targets, state)
        clip_grad_norm(model.grads, 5.0)
        optimizer.step()
        losses.append(loss)
        if (step + 1) % log_every == 0 or step == start:
            print(f"step {step + 1:5d}  loss {loss:.3f} nats/char")
    if losses:
        save(out, model, optimizer, state, steps, tokenizer, settings)

    samples = {}
    for temperature in TEMPERATURES:
        prime = tokenizer.encode("\n")
        ids = model.generate(
            prime, 200, temperature=temperature, rng=seed, exclude=tokenizer.never_sampled
        )
        samples[temperature] = tokenizer.decode(list(ids))
        print(f"\n--- temperature {temperature} ---\n{samples[temperature]}")
    model.train()
    return {"losses": losses, "samples": samples, "model": model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a text file (default: Tiny Shakespeare if present)")
    parser.add_argument("--out", default="runs/char_rnn", help="the checkpoint folder")
    parser.add_argument(
        "--steps", type=int, help="train up to this many steps (default 2000; --quick: 100)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out, with its settings"
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"a tiny model, the first {QUICK_CHARS:,} characters"
    )
    args = parser.parse_args()
    if args.data is not None and not Path(args.data).is_file():
        parser.exit(2, f"char_rnn.py: {args.data} not found; give --data a text file\n")
    out = Path(args.out)
    steps = args.steps if args.steps is not None else 100 if args.quick else 2000
    settings, max_chars = (dict(QUICK), QUICK_CHARS) if args.quick else ({}, None)
    if args.resume:
        if not (out / "run.json").is_file():
            parser.exit(2, f"char_rnn.py: {out} holds no run to resume; train one first\n")
        record = json.loads((out / "run.json").read_text("utf-8"))
        if record["step"] >= steps:
            parser.exit(
                2, f"char_rnn.py: {out} is at step {record['step']}; give --steps above it\n"
            )
        # The run's own settings: its weights and state have their shapes, and its streams
        # are cut from the same number of characters.
        settings = record.get("settings", settings)
        max_chars = settings.pop("chars", max_chars)
    text = read_text(args.data, max_chars)
    if args.resume and max_chars and len(text) < max_chars:
        parser.exit(
            2, f"char_rnn.py: {out} was trained on {max_chars:,} characters, the text has "
            f"{len(text):,}; give the run's --data\n",
        )  # fmt: skip
    print(f"A stacked LSTM learns to continue a text of {len(text):,} characters.")
    result = train(text, steps, out, args.resume, **settings)
    if result["losses"]:
        first, last = result["losses"][0], np.mean(result["losses"][-10:])
        print(
            f"\nloss {first:.2f} -> {last:.2f} nats/char (uniform guessing: "
            f"{np.log(result['model'].vocab_size):.2f})"
        )


if __name__ == "__main__":
    stop_quietly_on_ctrl_c(main)
