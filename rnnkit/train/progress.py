"""The progress bar a training run shows: step, loss, tokens per second and time left;
and ``item_bar``, a bar over the inputs of a long evaluation or prediction.

A thin wrapper over tqdm. The bar goes to stderr and only appears on a terminal (tqdm's
``disable=None``), so piped output and tests stay clean; messages printed through
``write`` go to stdout, above the bar. The time left is the trainer's estimate (it knows
both the step and the time limit), not tqdm's.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """``update`` after each step, ``write`` for messages, ``close`` at the end."""

    def __init__(
        self, total_steps: int | None, initial_step: int = 0, enabled: bool | None = None
    ) -> None:
        # enabled=None lets tqdm decide: on for a terminal, off otherwise.
        self.bar = tqdm(
            total=total_steps,
            initial=initial_step,
            unit="step",
            disable=None if enabled is None else not enabled,
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
            if total_steps
            else "{n_fmt} steps [{elapsed}{postfix}]",
        )

    def update(
        self,
        step: int,
        loss: float,
        tokens_per_second: float,
        eta_seconds: float | None,
        unit: str = "tokens",
    ) -> None:
        """Show STEP, LOSS, the speed (UNIT per second: "tok/s" for tokens) and the time left."""
        shown = "tok" if unit == "tokens" else unit
        parts = [f"loss {loss:.3f}", f"{tokens_per_second:,.0f} {shown}/s"]
        if eta_seconds is not None:
            parts.append(f"eta {format_duration(eta_seconds)}")
        self.bar.set_postfix_str(" | ".join(parts), refresh=False)
        self.bar.update(step - self.bar.n)

    def write(self, message: str) -> None:
        """Print MESSAGE on stdout without breaking the bar."""
        self.bar.write(message, file=sys.stdout)

    def close(self) -> None:
        self.bar.close()


def item_bar(total: int, unit: str, enabled: bool | None = None) -> tqdm:
    """A bar over TOTAL items (``update(n)`` as they are done, ``close()`` at the end) on
    stderr, cleared when closed: ENABLED None shows it on a terminal only, as the training
    bar; True always; False never."""
    return tqdm(
        total=total,
        unit=unit,
        disable=None if enabled is None else not enabled,
        leave=False,
        dynamic_ncols=True,
    )
