"""The sign-in panel: the link to sign in, a countdown, and what the listener reports."""

from __future__ import annotations

import threading
import time
from html import escape
from urllib.parse import urlsplit

from .. import browser, flow
from ..errors import SandboxStopped
from ..events import EventCallback, Kind
from ..loopback import is_loopback
from .widgets import DEFAULT_TIMEOUT, NEXT_STEP, show_widget, ticker, widgets_enabled

# --- the sign-in panel ---------------------------------------------------------------------

#: The kinds after which the sign-in is still waiting: the countdown goes on.
_STILL_WAITING = ("listening", "waiting", "ignored")
#: Event kind (``helpers.events.Kind``) -> (symbol, colour) for the status line.
_KINDS: dict[Kind, tuple[str, str]] = {
    "waiting": ("⏳", "#555"),
    "listening": ("⏳", "#555"),
    "ignored": ("⚠️", "#a60"),
    "received": ("✅", "#070"),
    "token": ("🔑", "#070"),
    "error": ("❌", "#b00"),
    "timeout": ("⌛", "#b00"),
    "stopped": ("⏹", "#555"),
}


class SignInPanel:
    """The sign-in link (styled as a button, always shown) and a live status line.

    Pass ``panel.on_event`` to ``CallbackListener(..., on_event=...)``: the listener's thread
    then updates the status line (waiting with time left, a refused callback, the callback,
    the token, or the error). ``history`` keeps every status line, for the plain-text view and
    for tests.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        label: str = "Open the sign-in page",
        widgets: bool | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.label = label
        self.history: list[tuple[str, str]] = []
        self.kind = "new"
        self.message = "Not started."
        self._deadline: float | None = None
        self._watch: flow.SandboxWatch | None = None
        self._widgets = widgets_enabled() if widgets is None else widgets
        self._lock = threading.Lock()
        self.widget = self._build() if self._widgets else None

    def _build(self):
        import ipywidgets as w

        # A link styled as a button, not a widgets.Button: a Button's click is handled by the
        # kernel, and the kernel is busy in listener.wait() while the learner signs in. A link
        # opens in the browser itself, whatever the kernel is doing.
        self._link = w.HTML(
            f'<a href="{escape(self.url)}" target="_blank" rel="noopener" '
            'class="jupyter-button widget-button mod-primary" '
            'style="display:inline-flex;align-items:center;text-decoration:none;padding:0 12px">'
            f"{escape(self.label)}</a>"
            f' <span style="color:#777">(or copy it: <code style="word-break:break-all">'
            f"{escape(self.url)}</code>)</span>"
        )
        self._status = w.HTML(self._status_html())
        return w.VBox([self._link, self._status])

    # --- what the listener and the caller report -----------------------------------------------

    def start_countdown(
        self, timeout: float | None = None, message: str | None = None, *, watch: bool = True
    ) -> None:
        """Show "waiting, N s left" from now until ``timeout`` seconds have passed.

        ``watch``: when the sign-in page is the local sandbox's (a loopback address), look at
        its ``/health`` meanwhile and say so if it stops answering (``flow.SandboxWatch``).
        """
        self._deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        self.set_status("waiting", message or flow.waiting_message())
        ticker.add(self)
        parts = urlsplit(self.url)
        if watch and is_loopback(parts.hostname) and self._watch is None:
            self._watch = flow.SandboxWatch(f"{parts.scheme}://{parts.netloc}", self._gone)
            self._watch.start()

    def _gone(self, error: SandboxStopped) -> None:
        self.set_status("error", f"{error} Press ■ (interrupt) to stop waiting.")

    def on_event(self, kind: Kind, message: str) -> None:
        """Listener callback (called from its threads)."""
        if kind == "stopped" and self.kind in ("received", "error", "timeout", "token"):
            return  # the stop that follows an outcome says nothing new
        if kind in ("received", "token"):
            message = f"{message} {NEXT_STEP}"
        self.set_status(kind, message)

    def set_status(self, kind: str, message: str) -> None:
        with self._lock:
            self.kind, self.message = kind, message
            self.history.append((kind, message))
        if kind not in _STILL_WAITING:
            self._deadline = None  # the wait is over: no more countdown
            ticker.discard(self)
            if self._watch is not None:
                self._watch.stop()
        if self._widgets:
            self._status.value = self._status_html()
        elif kind not in ("listening", "waiting") or len(self.history) == 1:
            print(f"[{kind}] {message}", flush=True)

    def tick(self) -> None:
        if self._deadline is None or self.kind not in _STILL_WAITING:
            ticker.discard(self)
            return
        if self.seconds_left == 0 and self._watch is not None:
            self._watch.stop()  # nothing waits any more
        if self._widgets:
            self._status.value = self._status_html()

    @property
    def seconds_left(self) -> int | None:
        if self._deadline is None:
            return None
        return max(0, int(self._deadline - time.monotonic()))

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        text = self.message
        left = self.seconds_left
        if self.kind in _STILL_WAITING and left is not None:
            text += f" ({left} s left)"
        return text

    def _status_html(self) -> str:
        symbol, colour = _KINDS.get(self.kind, ("", "#555"))
        return f'<span style="color:{colour}">{symbol} {escape(self.status_text)}</span>'

    # --- showing it -------------------------------------------------------------------------

    def open(self) -> None:
        """Open the link in a browser from the kernel (the cells do this for you)."""
        browser.open_url(self.url, show=False)

    def show(self) -> SignInPanel:
        if self._widgets:
            show_widget(self.widget)
        else:
            print(f"{self.label}: {self.url}", flush=True)
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"SignInPanel({self.kind}: {self.status_text})"


def panel_events(panel: SignInPanel, timeout: float) -> EventCallback:
    """The flow's events, shown on the panel: "waiting" starts its countdown (the flow itself
    watches the sandbox)."""

    def on_event(kind: Kind, message: str) -> None:
        if kind == "waiting":
            panel.start_countdown(timeout, message, watch=False)
        else:
            panel.on_event(kind, message)

    return on_event


def show_failure(panel: SignInPanel, error: BaseException) -> None:
    if isinstance(error, KeyboardInterrupt):
        panel.set_status("stopped", "Interrupted: stopped listening.")
    elif panel.kind not in ("error", "timeout"):
        panel.set_status("error", str(error))
