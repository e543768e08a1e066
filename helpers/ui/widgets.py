"""What every view shares: widgets or plain text, a display call, and a once-a-second ticker."""

from __future__ import annotations

import threading
import time
import weakref

from .. import browser, flow

#: Seconds the notebooks wait for the learner to sign in.
DEFAULT_TIMEOUT = flow.DEFAULT_TIMEOUT

#: Added to the status line once the callback or the token is in: the sign-in cell is still the
#: selected one (its link was clicked), so Shift+Enter would run it again.
NEXT_STEP = "Next: click the next cell, then Shift+Enter."

_forced: bool | None = None


def use_widgets(enabled: bool | None) -> None:
    """Force widgets on or off (``None``: decide automatically)."""
    global _forced
    _forced = enabled


def widgets_enabled() -> bool:
    """True when ipywidgets is installed and we run inside a Jupyter kernel."""
    if _forced is not None:
        return _forced
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return browser._in_notebook()


def show_widget(obj) -> None:
    from IPython.display import display

    display(obj)


# --- a once-a-second ticker for countdowns and live expiry ---------------------------------------


class Ticker:
    """One daemon thread that calls ``tick()`` on every live view once a second."""

    def __init__(self) -> None:
        self._views: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, view) -> None:
        with self._lock:
            self._views.add(view)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ui-ticker", daemon=True)
                self._thread.start()

    def discard(self, view) -> None:
        with self._lock:
            self._views.discard(view)

    def _run(self) -> None:
        while True:
            time.sleep(1.0)
            with self._lock:
                views = list(self._views)
                if not views:
                    self._thread = None
                    return
            for view in views:
                try:
                    view.tick()
                except Exception:  # noqa: S112, BLE001 - a broken view must not stop the others
                    continue


ticker = Ticker()
