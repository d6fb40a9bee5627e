"""Deep Learning from Scratch 2's own NumPy code, as the reference for the toy tasks' epoch.

The book's code is not part of rnnkit and is not copied here: the benchmark imports it from
a checkout given with ``--dlfs2 DIR``::

    git clone https://github.com/oreilly-japan/deep-learning-from-scratch-2 DIR

and runs one epoch of the book's own training loop (``common.trainer.Trainer.fit``: shuffle,
forward, backward, shared weights merged, gradients clipped at 5, Adam) on the book's
45,000 training pairs, with the model and sizes of its scripts: ``ch07/train_seq2seq.py``
with the reversed, peeky choice for addition, ``ch08/train.py`` for dates.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path

# task -> (the model's module, its class, hidden size, the book's data file); embedding 16,
# batch 128 and reversed sources for both, as in the book's scripts
MODELS = {
    "addition": ("ch07.peeky_seq2seq", "PeekySeq2seq", 128, "addition.txt"),
    "dates": ("ch08.attention_seq2seq", "AttentionSeq2seq", 256, "date.txt"),
}
BATCH, MAX_GRAD, EMBEDDING = 128, 5.0, 16


def dlfs2_epoch(root: Path, task: str, seed: int = 0) -> Callable[[], None]:
    """A function that trains the book's model for TASK one epoch, each call continuing
    the same model and optimizer.

    Args:
        root: a checkout of the book's repository (``common/``, ``dataset/``, ``ch07/``).
        task: ``addition`` or ``dates``.
        seed: NumPy's global seed, which the book's code draws its weights and order from.
    """
    if not (root / "common" / "trainer.py").is_file():
        raise SystemExit(f"--dlfs2: {root} is not a checkout of deep-learning-from-scratch-2 "
                         "(no common/trainer.py)")  # fmt: skip
    sys.path[:0] = [str(root), str(root / "ch07"), str(root / "ch08")]
    import numpy as np

    np.random.seed(seed)
    module, name, hidden, file = MODELS[task]
    sequence = importlib.import_module("dataset.sequence")
    model_class = getattr(importlib.import_module(module), name)
    adam = importlib.import_module("common.optimizer").Adam
    trainer_class = importlib.import_module("common.trainer").Trainer
    (x, t), _ = sequence.load_data(file)
    vocabulary, _ = sequence.get_vocab()
    trainer = trainer_class(model_class(len(vocabulary), EMBEDDING, hidden), adam())
    x = x[:, ::-1]

    def epoch() -> None:
        trainer.fit(x, t, max_epoch=1, batch_size=BATCH, max_grad=MAX_GRAD, eval_interval=None)

    return epoch
