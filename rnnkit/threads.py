"""How many threads rnnkit computes with: BLAS (NumPy's matrix products) and the C loops.

On a machine whose cores are busy with other work, more threads than free cores make each
step slower, not faster (two BLAS threads with one core busy ran 2.6 times slower than one).
``limit_threads(n)`` caps both kinds for the duration of a ``with`` block, and puts the
previous limits back after it::

    with limit_threads(1):
        ...  # BLAS through threadpoolctl, and the C loops (rnnkit.nn.lstm_fused.set_threads)

``limit_threads(None)`` changes nothing, so a command can pass its threads setting as
given. With more than one thread and the C loops on, rnnkit's own float32 products run on
the loops' threads, and NumPy's OpenBLAS keeps a single thread inside the block (see
``limit_threads``). This module sits below everything else in rnnkit; it imports the C
loops' module only when called.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

# The signals rnnkit answers by stopping (rnnkit.train.interrupt): held back while
# threadpoolctl runs, because it walks the loaded libraries through a ctypes callback, and a
# KeyboardInterrupt raised inside a ctypes callback is printed and dropped: the Ctrl-C would
# be lost and the command would go on.
HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back inside the block; one that came in the meantime
    is delivered (and answered as usual) when the block ends.

    The signals are held in Python, not by the thread's signal mask: the kernel hands a
    signal sent to the process to any thread that does not block it (OpenBLAS's workers, the
    C loops' threads), and Python then runs the handler in the main thread at once, mask or
    no mask. So inside the block each signal's handler only notes that it came; the handlers
    are put back at the end and each noted signal is raised again, once, as a blocked and
    pending one would be. Only the main thread, where Python runs its handlers, can do this;
    elsewhere, and for a signal whose handler Python did not install, nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {}
    for signum in HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: a handler from outside Python, left alone
            previous[signum] = handler
            signal.signal(signum, lambda received, frame: arrived.append(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(arrived):  # each once, in order, as pending signals are
            signal.raise_signal(signum)


MAX_THREADS = 4096


@contextmanager
def limit_threads(count: int | None) -> Iterator[None]:
    """At most COUNT threads in BLAS and in the C loops inside the block (None: no limit).

    Raises ValueError (naming the parameter) when COUNT is not a positive integer.
    """
    if count is None:
        yield
        return
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"threads: must be a positive whole number, got {count!r}")
    # "at most": no machine has more cores, and BLAS takes its count as a C int
    count = min(count, MAX_THREADS)
    from rnnkit.nn import lstm_fused, products  # imported late (see above)

    # With the C loops on several threads, rnnkit's float32 products run on the loops' own
    # threads (rnnkit.nn.products). NumPy's OpenBLAS pool is then only woken by NumPy's
    # other calls (a norm, a stacked product), and its workers spin for ~0.1 s on the cores
    # the loops need next: a G2P training step took as long on 2 threads as on 1. So that
    # OpenBLAS keeps one thread, and only rnnkit's own products use the others.
    own_blas = products.own_blas_file() if count > 1 else None
    with signals_held():
        blas = threadpool_limits(limits=count)
        own = threadpool_limits(limits={own_blas: 1}) if own_blas else None
    previous = lstm_fused.set_threads(count)
    try:
        yield
    finally:
        lstm_fused.set_threads(previous)
        with signals_held():
            if own is not None:
                own.restore_original_limits()
            blas.restore_original_limits()
