"""Will a run fit in memory? An estimate made before any array is allocated.

A model whose sizes were mistyped (``hidden_size`` 20000, a vocabulary of 10^10) would
otherwise allocate until the kernel kills the process, or fail deep inside NumPy. Training
holds each parameter about six times over (the weights, their gradient, Adam's two moments,
an averaged copy or a checkpoint's copy, and slack), plus the activations of one batch; the
estimate is compared with the memory the machine has available now.
"""

from __future__ import annotations

import os

from rnnkit.errors import UserError

COPIES_PER_PARAMETER = 6
SHARE_OF_AVAILABLE = 0.9  # leave the rest to the system and to NumPy's temporaries


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def training_bytes(parameters: int, activations: int, itemsize: int = 4) -> int:
    """Bytes to train PARAMETERS weights with ACTIVATIONS numbers kept for one batch."""
    return itemsize * (COPIES_PER_PARAMETER * parameters + activations)


def gibibytes(count: float) -> str:
    return f"{count / 2**30:.2f} GiB"


def check_fits(needed: int, what: str, smaller: str, available: int | None = None) -> None:
    """Raise ``UserError`` when NEEDED bytes exceed what the machine can give.

    WHAT names the job ("training this model"); SMALLER names the settings to lower.
    """
    available = available_memory() if available is None else available
    if available is not None and needed > SHARE_OF_AVAILABLE * available:
        raise UserError(
            f"{what} needs about {gibibytes(needed)} of memory, but this machine has "
            f"{gibibytes(available)} available; lower {smaller}"
        )


def check_saved_fits(parameters: int, folder: object) -> None:
    """Refuse to load a saved model of PARAMETERS weights (and one copy while loading) that
    the machine cannot hold: its sizes in FOLDER's config.json may have been edited."""
    check_fits(
        training_bytes(parameters, 0) // 3,  # the weights and one copy
        f"the model in {folder}",
        f"its sizes: {folder}/config.json may have been edited",
    )
