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


@dataclass(frozen=True)
class _CellRun:
    cell: str  # the notebook cell's id, as the frontend sends it
    sent_at: float  # when the frontend asked to run it (its clock)


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
    return _CellRun(cell, sent.timestamp())


def refuse_a_repeat(run: _CellRun | None) -> None:
    """``RepeatedSignIn`` when this cell was asked to run again before its last sign-in ended.

    Both times come from the frontend's clock, so the comparison holds whatever the kernel's.
    """
    last = _last_sign_in
    if run is None or last is None or last.run.cell != run.cell:
        return
    if run.sent_at - last.run.sent_at < last.took:
        raise RepeatedSignIn()


def record(run: _CellRun | None, started: float) -> None:
    global _last_sign_in
    if run is not None:
        _last_sign_in = _SignInDone(run, time.monotonic() - started)
