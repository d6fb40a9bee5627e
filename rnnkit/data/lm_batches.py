"""Batches for training a language model with truncated backpropagation through time.

The token stream is cut into ``batch_size`` long streams that are read side by side, one
window of ``seq_len`` steps at a time. Window k+1 of a stream starts where window k ended, so
a model can carry its hidden state from one window to the next and still see the text in
order (the classic Penn Treebank reader of Zaremba et al. works this way).

    tokens   a b c d e f g h i j k l m      batch_size=2 -> two streams of 6, "m" dropped
    stream 0 a b c d e f                    window 0: inputs a b / targets b c
    stream 1 g h i j k l                    window 1: inputs c d / targets d e
                                            window 2: inputs e   / targets f   (shorter)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnnkit.errors import UserError


def check_stream_sizes(batch_size: int, seq_len: int) -> None:
    """Refuse a BATCH_SIZE (streams) or SEQ_LEN (steps a window) below 1."""
    if batch_size < 1 or seq_len < 1:
        raise UserError(
            f"batch_size and seq_len must be at least 1, got {batch_size} and {seq_len}"
        )


class StreamBatcher:
    """Windows of ``(inputs, targets)``, each an int64 array of shape (batch_size, steps).

    IDS may be a memory-mapped file of small integers (``rnnkit.data.token_cache``): the
    streams are views of it, and only the window read is copied (as int64) into memory.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int) -> None:
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must be a 1-D token stream, got shape {ids.shape}")
        check_stream_sizes(batch_size, seq_len)
        stream_len = len(ids) // batch_size
        # Each stream needs an input token and the token after it as its target.
        if stream_len < 2:
            raise UserError(
                f"the text has {len(ids)} tokens, but batch size {batch_size} needs at least "
                f"{2 * batch_size} (2 per stream); use a smaller batch_size or a longer text"
            )
        self.batch_size = batch_size
        self.seq_len = seq_len
        # The tail that does not fill every stream equally is dropped. A view: no copy.
        self.streams = ids[: batch_size * stream_len].reshape(batch_size, -1)

    @property
    def num_windows(self) -> int:
        # The last token of a stream is only ever a target, so a stream has
        # stream_len - 1 input steps; the last window takes whatever is left over.
        steps = self.streams.shape[1] - 1
        return -(-steps // self.seq_len)  # ceiling division

    @property
    def num_targets(self) -> int:
        """How many tokens one pass over all windows predicts (for per-token averages)."""
        return self.batch_size * (self.streams.shape[1] - 1)

    def window(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Window K: inputs and the targets one step ahead, both (batch_size, steps)."""
        if not 0 <= k < self.num_windows:
            raise IndexError(f"window {k} out of range [0, {self.num_windows})")
        start = k * self.seq_len
        stop = min(start + self.seq_len, self.streams.shape[1] - 1)
        # Copies, so a caller that changes a batch cannot change the data behind it.
        inputs = self.streams[:, start:stop].astype(np.int64)
        targets = self.streams[:, start + 1 : stop + 1].astype(np.int64)
        return inputs, targets

    def __len__(self) -> int:
        return self.num_windows

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for k in range(self.num_windows):
            yield self.window(k)


def split_train_val(ids: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split a token stream: the first part trains, the LAST ``val_fraction`` validates.

    The cut is at ``int(len(ids) * (1 - val_fraction))``, the convention of nanoGPT's
    Tiny Shakespeare split, so numbers compare. ``val_fraction=0`` gives an empty validation
    part. Each non-empty part needs at least 2 tokens (one input and its target).
    """
    ids = np.asarray(ids)
    if not 0 <= val_fraction < 1:
        raise UserError(f"val_fraction must be in [0, 1), got {val_fraction}")
    cut = int(len(ids) * (1 - val_fraction))
    train, val = ids[:cut], ids[cut:]
    parts = {"training": train, "validation": val} if val_fraction > 0 else {"training": train}
    for name, part in parts.items():
        if len(part) < 2:
            raise UserError(
                f"the {name} part would get {len(part)} of the {len(ids)} tokens "
                f"(val_fraction {val_fraction}) but needs at least 2; "
                "use a longer text or change val_fraction"
            )
    return train, val
