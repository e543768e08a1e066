"""Which notebook cell is running, when the frontend asked for it, and how long it queued.

    >>> from helpers import cell_clock
    >>> cell_clock.this_cell_run()      # None outside a notebook
    CellRun(cell='a1b2…', sent_at=1765000000.0, queued=2.4)

Every request to run a cell carries the time the frontend sent it, on the frontend's clock.
The kernel's clock may differ from it (the browser on a laptop, the kernel on a server). The
smallest "kernel's time at a cell's start, less its send time" seen so far is that difference
(plus the network's delay): a cell that ran at once. A cell's own lag less that smallest one is
how long it waited behind the cells before it (Run All), whatever the two clocks say. It is
never overestimated; it is underestimated only until a cell has run at once.

``watch()`` notes the lag of every cell from then on (IPython's ``pre_run_cell`` event) and of
the cell running now; ``import helpers`` calls it first thing, so the first cell's is near zero.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CellRun:
    cell: str  # the notebook cell's id, as the frontend sends it
    sent_at: float  # when the frontend asked to run it (its clock)
    queued: float = 0.0  # seconds it waited behind other cells before it ran


_least_lag: float | None = None  # the smallest kernel-time-at-start less send-time seen
_watched: set[int] = set()  # the shells whose pre_run_cell event calls _note


def watch() -> None:
    """Note the lag of the cell running now and of every cell after it (in a kernel only)."""
    shell = _shell()
    if shell is None:
        return
    if id(shell) not in _watched:
        shell.events.register("pre_run_cell", _note)
        _watched.add(id(shell))
    _note()


def this_cell_run() -> CellRun | None:
    """The cell being run, when the frontend asked for it, how long it queued; None outside a
    notebook."""
    shell = _shell()
    parent = getattr(shell, "parent_header", None) or {}
    cell = (parent.get("metadata") or {}).get("cellId")
    sent = _sent_at(parent)
    if not cell or sent is None:
        return None
    lag = _note()
    return CellRun(cell, sent, max(0.0, lag - _least_lag) if lag is not None else 0.0)


def _note(_info=None) -> float | None:
    """The running cell's lag (kernel's time less its send time), kept if the smallest yet."""
    global _least_lag
    shell = _shell()
    sent = _sent_at(getattr(shell, "parent_header", None) or {})
    if sent is None:
        return None
    lag = time.time() - sent
    if _least_lag is None or lag < _least_lag:
        _least_lag = lag
    return lag


def _sent_at(parent: dict) -> float | None:
    sent = (parent.get("header") or {}).get("date")
    if isinstance(sent, str):
        try:
            sent = datetime.fromisoformat(sent.replace("Z", "+00:00"))
        except ValueError:
            return None
    return sent.timestamp() if isinstance(sent, datetime) else None


def _shell():
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython else None
