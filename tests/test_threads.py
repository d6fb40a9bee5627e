"""limit_threads: BLAS (as threadpoolctl reports it) and the C loops take the limit inside
the block and get their previous counts back after it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from rnnkit.nn import c_binding, lstm_fused, products
from rnnkit.threads import limit_threads


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_the_limit_holds_inside_and_is_undone_after() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # NumPy's BLAS is loaded
    blas_before, c_before = blas_threads(), lstm_fused.threads()
    assert blas_before, "threadpoolctl finds no BLAS library under NumPy"
    with limit_threads(1):
        assert blas_threads() == [1] * len(blas_before)
        assert lstm_fused.threads() == 1
    assert blas_threads() == blas_before
    assert lstm_fused.threads() == c_before


def test_with_products_in_c_blas_keeps_one_thread_and_the_loops_take_the_count() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))
    own = products.own_blas_file()
    if own is None:
        pytest.skip("no C loops or no NumPy OpenBLAS here: BLAS takes the count itself")

    def own_threads() -> int:
        return next(pool["num_threads"] for pool in threadpool_info() if pool["filepath"] == own)

    before = own_threads()
    with limit_threads(2):
        assert own_threads() == 1
        assert lstm_fused.threads() == 2
    assert own_threads() == before


def test_on_the_numpy_kernels_blas_takes_the_count() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))
    previous = c_binding.use_kernel(c_binding.NUMPY)
    try:
        with limit_threads(2):
            assert blas_threads() == [2] * len(blas_threads())
    finally:
        c_binding.use_kernel(previous)


def test_a_count_past_any_machine_is_no_limit_not_an_overflow() -> None:
    # --threads 99999999999999999999 overflowed BLAS's C int in a traceback
    np.ones((2, 2)) @ np.ones((2, 2))
    with limit_threads(10**20):
        assert 1 <= lstm_fused.threads() <= 4096
        assert all(1 <= count <= 4096 for count in blas_threads())


def test_none_changes_nothing() -> None:
    before = blas_threads(), lstm_fused.threads()
    with limit_threads(None):
        assert (blas_threads(), lstm_fused.threads()) == before


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_a_count_that_is_not_a_positive_integer_is_refused(count: object) -> None:
    refused = pytest.raises(ValueError, match="threads: must be a positive whole number")
    with refused, limit_threads(count):  # type: ignore[arg-type]
        pass


def test_a_signal_during_held_work_is_delivered_afterwards_not_lost() -> None:
    import os
    import signal

    from rnnkit.threads import signals_held

    caught = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: caught.append(signum))
    try:
        with signals_held():
            os.kill(os.getpid(), signal.SIGHUP)
            assert caught == []  # held back while the block runs
        assert caught == [signal.SIGHUP]  # and answered as soon as it ends
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_ctrl_c_sent_from_another_thread_during_held_work_interrupts_after_it() -> None:
    import os
    import signal
    import time

    from rnnkit.threads import signals_held

    steps = []
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            sender.start()
            sender.join()
            for _ in range(20):  # Python code runs on: the handler would have fired by now
                time.sleep(0.005)
                steps.append(1)
        steps.append("after the block")  # never reached: the interrupt comes first
    assert steps == [1] * 20
    assert signal.getsignal(signal.SIGINT) is handler
