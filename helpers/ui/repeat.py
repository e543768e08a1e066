"""A sign-in cell run again while its sign-in waited: refused with ``RepeatedSignIn``."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime

from ..errors import RepeatedSignIn

# --- a sign-in cell run again while its sign-in waited ----------------------------------------
# Clicking the panel's link selects its cell; back in the notebook, Shift+Enter queues that
# cell again. The kernel runs it once the sign-in is over, and it would start a second one.

#: The longest wait in the kernel's queue counted (Run All: the cells above run first). The
#: frontend's clock and the kernel's may differ; past this, a difference is taken for that.
MAX_QUEUED = 30.0


@dataclass(frozen=True)
class _CellRun:
    cell: str  # the notebook cell's id, as the frontend sends it
    sent_at: float  # when the frontend asked to run it (its clock)
    queued: float = 0.0  # seconds it waited behind other cells before it ran (0 to MAX_QUEUED)


@dataclass(frozen=True)
class _SignInDone:
    run: _CellRun
    took: float  # seconds the sign-in lasted (this kernel's clock)


_last_sign_in: _SignInDone | None = None


def this_cell_run() -> _CellRun | None:
    """The cell being run and when the frontend asked for it; None outside a notebook."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    parent = getattr(shell, "parent_header", None) or {}
    cell = (parent.get("metadata") or {}).get("cellId")
    sent = (parent.get("header") or {}).get("date")
    if isinstance(sent, str):
        try:
            sent = datetime.fromisoformat(sent.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not cell or not isinstance(sent, datetime):
        return None
    queued = min(max(time.time() - sent.timestamp(), 0.0), MAX_QUEUED)
    return _CellRun(cell, sent.timestamp(), queued)


def refuse_a_repeat(run: _CellRun | None) -> None:
    """``RepeatedSignIn`` when this cell was asked to run again before its last sign-in ended.

    The last sign-in ended, on the frontend's clock, ``queued + took`` after it was sent: the
    time its cell waited behind the cells above it (Run All), then the sign-in itself.
    """
    last = _last_sign_in
    if run is None or last is None or last.run.cell != run.cell:
        return
    if run.sent_at - last.run.sent_at < last.run.queued + last.took:
        raise RepeatedSignIn()


def record(run: _CellRun | None, started: float) -> None:
    global _last_sign_in
    if run is not None:
        _last_sign_in = _SignInDone(run, time.monotonic() - started)
