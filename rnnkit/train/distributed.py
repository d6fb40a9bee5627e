"""Data-parallel training over MPI: ``mpiexec -n N rnnkit train ...``.

Every rank builds the same run (same data, same seed, same model), then ``Trainer.train``
calls ``attach``, which refuses ranks whose runs differ (``run_digest``: each reads its own
data with its own arguments), and each step:

- every rank computes the loss and gradients of its own share of the global batch: the
  model's ``loss_and_backward`` is wrapped to take the rank's rows only (``rows(B)``: of
  the language model's window, the classifier's texts, the tagger's sentences with their
  words' characters, the seq2seq pairs, the generator's texts with their conditions, the
  forecaster's windows). A rank's share weighs its loss by its part of the terms the
  batch's mean loss is over (its rows, their class weights, their target or predicted
  tokens, their tagged tokens; ``rnnkit.train.rank_shares`` task by task), so the
  weighted sum is the global batch's loss;
- the gradients, weighted by the rank's share, and the weighted loss are summed
  over the ranks in ONE flat float32 buffer with a buffer-based ``Iallreduce`` (the mean
  gradient of the global batch, the same on every rank);
- every rank clips and steps the same optimizer on the same gradient, so the weights stay
  identical (rank 0's are broadcast once at the start, to be sure of it).

Rank 0 alone writes checkpoints, the best model, metrics and the progress bar; the other
ranks write nothing. Every rank makes the same global batches (the language model's windows
in order, the other tasks' from generators seeded by the run's seed and the epoch, never by
the model's own generator, which each rank jumps for its dropout masks) and validates the
same weights on the whole validation data, so the ranks agree on the best model and the
learning rate. What differs per rank is gathered for
a checkpoint (the language model's hidden state: rows of the global batch), so a
checkpoint is that of one process with the global batch, and a run resumes on any number
of ranks. Whether to stop (budget, signal) is agreed on by every rank before each step.

A collective that does not complete within ``RNNKIT_MPI_TIMEOUT`` seconds (default
``DEFAULT_TIMEOUT``) means a rank died or hangs: the rank says so in one line and the job is
aborted with status 2, rather than waiting for ever.

Without mpi4py, or outside ``mpiexec``, or with one rank, ``world()`` is None and nothing
changes. Every task's batches are split; a task without a splitter in ``SPLITTERS`` would
be refused in one line.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Any

import numpy as np

from rnnkit.errors import UserError
from rnnkit.train.rank_shares import SPLITTERS

TIMEOUT_VARIABLE = "RNNKIT_MPI_TIMEOUT"
DEFAULT_TIMEOUT = 600.0  # seconds a rank waits for the others at one collective
REPORT_GRACE = 2.0  # seconds a failing rank after the first gives rank 0 to say it first
# Variables the MPI launchers set in each process they start: the number of ranks.
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
SPLIT_TASKS = tuple(SPLITTERS)  # tasks whose batches are split across ranks
STATE_GROUP = "hidden_state"  # the language model's state in a checkpoint: (layers, B, H)

_world: Distributed | None = None
_looked = False


class RankLostError(UserError):
    """Another rank did not take part in a collective in time."""


class EveryRankError(UserError):
    """A refusal every rank makes alike: rank 0 alone needs to say it."""


def launched_ranks() -> int:
    """How many ranks the MPI launcher started (1 outside a launcher)."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def world() -> Distributed | None:
    """The MPI world of this process when it is one of several ranks, else None.

    mpi4py is imported (which starts MPI) only when a launcher started more than one rank.
    """
    global _world, _looked
    if not _looked:
        _looked = True
        if launched_ranks() > 1:
            try:
                from mpi4py import MPI
            except ImportError:
                raise UserError(
                    "started by an MPI launcher with several ranks, but mpi4py is not "
                    'installed: pip install "rnnkit[mpi]", or run one process'
                ) from None
            if MPI.COMM_WORLD.Get_size() > 1:
                _world = Distributed(MPI.COMM_WORLD)
    return _world


def is_writer() -> bool:
    """Whether this process writes run files and output: rank 0, or the only process."""
    distributed = world()
    return distributed is None or distributed.rank == 0


def timeout_seconds() -> float:
    value = os.environ.get(TIMEOUT_VARIABLE)
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UserError(f"{TIMEOUT_VARIABLE} must be a number of seconds above 0, got {value!r}")
    return seconds


def run_digest(trainer: Any) -> bytes:
    """What makes TRAINER's run, hashed: its task, data fingerprint, settings (the paths of
    the data aside: a rank may read the same data at another path) and weight shapes."""
    config = trainer.run_config
    settings = dataclasses.asdict(config)
    data = getattr(config, "data", None)
    if dataclasses.is_dataclass(data):
        for field in dataclasses.fields(data):
            if field.metadata.get("path"):
                settings["data"].pop(field.name, None)
    run = {
        "task": trainer.task_name,
        "data": trainer.info.get("data_sha256"),
        "settings": settings,
        "weights": {name: list(value.shape) for name, value in trainer.model.params.items()},
    }
    return hashlib.sha256(json.dumps(run, sort_keys=True, default=str).encode()).digest()


class Distributed:
    """One rank of an MPI job (COMM: an mpi4py communicator of more than one process)."""

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout_seconds()
        # Set when this rank gave up on the others: the whole job ends with it at exit.
        self.abort_status: int | None = None
        self.weight = 1.0  # this rank's part of the current step's loss (rank_shares)
        self.buffer: np.ndarray | None = None
        self.reduce_seconds = 0.0  # time spent in the gradient allreduce, for benchmarks
        self.reductions = 0
        # Registered after mpi4py's import, so it runs before MPI is finalized: a rank that
        # gave up on the others must not wait for them again in MPI_Finalize.
        atexit.register(self._abort_if_failed)

    # -- collectives with a deadline ---------------------------------------------------------

    def _wait(self, request: Any, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        delay = 1e-5
        while not request.Test():
            if time.monotonic() > deadline:
                self.abort_status = 2
                raise RankLostError(
                    f"rank {self.rank} of {self.size}: the other ranks did not join {what} "
                    f"within {self.timeout:g} s (a rank died or hangs); stopping "
                    f"(the wait is set by {TIMEOUT_VARIABLE})"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)

    def abandon(self, status: int) -> None:
        """End every rank with STATUS when this one exits: it left the others (a second
        signal stopped it mid-step), who would otherwise wait for it until the timeout."""
        self.abort_status = status

    def fail(self, status: int) -> None:
        """This rank failed (its data missing, a bug): end every rank with STATUS when it
        exits, rather than leave the others waiting for it until the timeout. Most errors
        come to every rank alike: a rank after the first waits ``REPORT_GRACE`` first, in
        which rank 0 says it and ends the job, so it is said once; a rank that fails alone
        says it afterwards."""
        self.abandon(status)
        if self.rank != 0:
            time.sleep(REPORT_GRACE)

    def _abort_if_failed(self) -> None:
        if self.abort_status is not None:
            sys.stderr.flush()
            # The rank's one line is out; MPI_Abort's own report would be a second.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
            self.comm.Abort(self.abort_status)

    def allreduce(self, buffer: np.ndarray, what: str, op: Any = None) -> np.ndarray:
        """Sum (or OP) BUFFER over the ranks in place."""
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=op or self.MPI.SUM)
        self._wait(request, what)
        return buffer

    def barrier(self, what: str) -> None:
        self._wait(self.comm.Ibarrier(), what)

    def broadcast(self, buffer: np.ndarray, what: str) -> np.ndarray:
        self._wait(self.comm.Ibcast(buffer, root=0), what)
        return buffer

    # -- the run -----------------------------------------------------------------------------

    def check(self, task_name: str, batch_rows: int | None) -> None:
        """Refuse a task whose batches cannot be split, or fewer batch rows than ranks."""
        if task_name not in SPLIT_TASKS:
            raise EveryRankError(
                f"the {task_name or 'this'} task cannot yet train on several MPI ranks "
                f"({self.size} started); only {', '.join(SPLIT_TASKS)} can: run it as "
                "one process"
            )
        if batch_rows is not None and batch_rows < self.size:
            raise EveryRankError(
                f"batch_size {batch_rows} is smaller than the {self.size} MPI ranks: each "
                "rank needs at least one row; raise batch_size or start fewer ranks"
            )

    def rows(self, count: int) -> slice:
        """This rank's rows of a batch of COUNT rows (balanced, in rank order)."""
        return slice(self.rank * count // self.size, (self.rank + 1) * count // self.size)

    def attach(self, trainer: Any) -> None:
        """Make TRAINER's steps split across the ranks (see the module docstring)."""
        self.barrier("the start of training")
        self.check_same_run(trainer)
        if not getattr(trainer, "_split_by_ranks", False):  # once, however often it trains
            trainer._split_by_ranks = True
            self.broadcast_weights(trainer.model)
            if trainer.task_name == "lm":
                trainer.state = self.local_state(trainer.state)
            # Each rank draws its own dropout masks: rank r jumps the generator r times.
            bits = trainer.model.rng.bit_generator
            if self.rank:
                bits.state = bits.jumped(self.rank).state
        self._wrap(trainer.model, trainer.task_name)

    def check_same_run(self, trainer: Any) -> None:
        """Refuse ranks that would not train one run: their data, settings or model differ
        (each rank reads its own copy of the data, with its own arguments)."""
        digest = np.frombuffer(run_digest(trainer), dtype=np.uint8).astype(np.int32)
        extremes = np.concatenate([digest, -digest])  # the largest and the smallest at once
        self.allreduce(extremes, "the comparison of the ranks' runs", op=self.MPI.MAX)
        if not np.array_equal(extremes[: digest.size], -extremes[digest.size :]):
            raise EveryRankError(
                f"the {self.size} MPI ranks do not train the same run: their data or settings "
                "differ; give every rank the same arguments and the same data"
            )

    def detach(self, trainer: Any) -> None:
        trainer.model.__dict__.pop("loss_and_backward", None)

    def broadcast_weights(self, model: Any) -> None:
        names = sorted(model.params)
        flat = self._flat(model.params, names, extra=0)
        self.broadcast(flat, "the first weights")
        self._unflatten(flat, model.params, names)

    def _wrap(self, model: Any, task: str) -> None:
        model.loss_and_backward = SPLITTERS[task](model, self)

    def average_gradients(self, grads: dict[str, np.ndarray], loss: float) -> float:
        """Replace GRADS by their mean over the global batch; return the global loss."""
        names = sorted(grads)
        flat = self._flat(grads, names, extra=1, scale=self.weight)
        flat[-1] = loss * self.weight
        started = time.perf_counter()
        self.allreduce(flat, "a gradient allreduce")
        self.reduce_seconds += time.perf_counter() - started
        self.reductions += 1
        self._unflatten(flat, grads, names)
        return float(flat[-1])

    def _flat(
        self, arrays: dict[str, np.ndarray], names: list[str], extra: int, scale: float = 1.0
    ) -> np.ndarray:
        size = sum(arrays[name].size for name in names) + extra
        if self.buffer is None or self.buffer.size != size:
            self.buffer = np.empty(size, dtype=np.float32)
        flat, offset = self.buffer, 0
        for name in names:
            array = arrays[name]
            part = flat[offset : offset + array.size]
            np.multiply(array.reshape(-1), scale, out=part, casting="unsafe")
            offset += array.size
        return flat

    @staticmethod
    def _unflatten(flat: np.ndarray, arrays: dict[str, np.ndarray], names: list[str]) -> None:
        offset = 0
        for name in names:
            array = arrays[name]
            array[...] = flat[offset : offset + array.size].reshape(array.shape)
            offset += array.size

    def agree_to_stop(self, reason: str | None, interrupted: bool) -> bool:
        """Whether any rank stops now (REASON: this rank's; INTERRUPTED: by a signal)."""
        flag = np.array([2 if interrupted else (1 if reason is not None else 0)], dtype=np.int32)
        self.allreduce(flag, "the decision to take another step", op=self.MPI.MAX)
        return bool(flag[0])

    # -- the language model's hidden state: rows of the global batch --------------------------

    def local_state(self, state: Any) -> Any:
        """This rank's rows of a full state (arrays of shape (layers, B, H)), or None."""
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(self.local_state(part) for part in state)
        return np.ascontiguousarray(state[:, self.rows(state.shape[1])])

    def full_arrays(
        self, arrays: dict[str, dict[str, np.ndarray]], batch_rows: int
    ) -> dict[str, dict[str, np.ndarray]]:
        """ARRAYS with the hidden state of every rank's rows (a collective)."""
        state = arrays.get(STATE_GROUP)
        if state is None:
            return arrays
        full = {}
        for name in sorted(state):
            local = state[name]
            whole = np.zeros((local.shape[0], batch_rows, *local.shape[2:]), dtype=local.dtype)
            whole[:, self.rows(batch_rows)] = local
            full[name] = self.allreduce(whole, "gathering the hidden state")
        return {**arrays, STATE_GROUP: full}
