"""A sign-in cell run again while its sign-in waited: refused with ``RepeatedSignIn``."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..cell_clock import CellRun
from ..errors import RepeatedSignIn

# --- a sign-in cell run again while its sign-in waited ----------------------------------------
# Clicking the panel's link selects its cell; back in the notebook, Shift+Enter queues that
# cell again. The kernel runs it once the sign-in is over, and it would start a second one.


@dataclass(frozen=True)
class _SignInDone:
    run: CellRun
    took: float  # seconds the sign-in lasted (this kernel's clock)


_last_sign_in: _SignInDone | None = None


def refuse_a_repeat(run: CellRun | None) -> None:
    """``RepeatedSignIn`` when this cell was asked to run again before its last sign-in ended.

    The last sign-in ended, on the frontend's clock, ``queued + took`` after it was sent: the
    time its cell waited behind the cells above it (Run All; ``helpers/cell_clock.py``), then
    the sign-in itself.
    """
    last = _last_sign_in
    if run is None or last is None or last.run.cell != run.cell:
        return
    if run.sent_at - last.run.sent_at < last.run.queued + last.took:
        raise RepeatedSignIn()


def record(run: CellRun | None, started: float) -> None:
    global _last_sign_in
    if run is not None:
        _last_sign_in = _SignInDone(run, time.monotonic() - started)
