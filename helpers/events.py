r"""What a sign-in reports as it goes: one list of event kinds, and one way to report them.

    >>> from helpers.events import emit
    >>> emit(lambda kind, message: print(f"[{kind}] {message}"), "ignored", "GET /\x1b[2K")
    [ignored] GET /\x1b[2K

The listener (``helpers.callback``) and the flow (``helpers.flow``) call ``on_event(kind,
message)``; the notebook views (``helpers.ui``) and ``python -m helpers`` show it. A message may
quote what a stranger sent (a request's path), so ``emit`` shows control characters as escapes:
no request can move a terminal's cursor or paint a line of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Literal

from .redact import printable

#: ``listening``: the listener accepts connections; ``waiting``: the browser is about to open;
#: ``ignored``: a request that is not the callback was answered; ``received``: the callback (or
#: a pasted one) passed the checks; ``error``: the sign-in failed; ``timeout``: nothing came in
#: time; ``stopped``: the listener freed its port; ``token``: the code was exchanged.
Kind = Literal[
    "listening", "waiting", "ignored", "received", "error", "timeout", "stopped", "token"
]

#: Longest message reported (an error's message and advice fit well within it).
MAX_MESSAGE = 2000

#: ``on_event(kind, message)``: must be quick; its exceptions are ignored.
EventCallback = Callable[[Kind, str], None]


def emit(on_event: EventCallback | None, kind: Kind, message: str) -> None:
    """Report one event; a broken view must not break the sign-in."""
    if on_event is not None:
        with contextlib.suppress(Exception):
            on_event(kind, printable(message, MAX_MESSAGE))


@dataclass(frozen=True)
class ListenerEvent:
    """One thing that happened to a listener (``listener.status`` is the latest)."""

    kind: Kind
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
