"""Views for the notebooks: ipywidgets 8 over the helpers, with a plain-text fallback.

    >>> from helpers import config, ui
    >>> cfg = connect.load()
    >>> token = ui.sign_in(cfg)        # shows the sign-in panel, opens the browser, waits
    >>> ui.TokenCard(token)            # masked token, principal, scopes, live expiry

Nothing here speaks OAuth: the flow's steps and decisions are in ``flow`` (and the modules it
calls); the views only show what those calls did. No cell depends on a
click: the panel's sign-in link works while the kernel waits, and ``sign_in`` also opens the
browser and waits by itself, with a timeout. Without ipywidgets, or outside a Jupyter kernel (a terminal, pytest), every view
prints plain text lines instead.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

from . import browser, flow
from .authorization import AuthorizationRequest
from .callback import CallbackResult, parse_callback_url
from .config import OAuthConfig
from .display import html_table
from .errors import OAuthTutorialError, RepeatedSignIn, SandboxStopped
from .events import EventCallback, Kind
from .loopback import is_loopback
from .tokens import Token, TokenStore
from .trace import Trace

__all__ = [
    "KNOWN_SCOPES",
    "PasteBox",
    "ScopePicker",
    "SignInPanel",
    "TokenCard",
    "TraceView",
    "saved_or_new_token",
    "sign_in",
    "use_widgets",
    "wait_for_callback",
    "widgets_enabled",
]

#: Scopes a learner may pick, with what they allow (GoTo's messaging API).
KNOWN_SCOPES: dict[str, str] = {
    "messaging.v1.send": "send text messages (the tutorial's scope)",
    "messaging.v1.read": "read text-message conversations",
    "messaging.v1.notifications.manage": "get notified of new text messages",
}

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


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


# --- a once-a-second ticker for countdowns and live expiry ---------------------------------------


class _Ticker:
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


_ticker = _Ticker()


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
        _ticker.add(self)
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
            _ticker.discard(self)
            if self._watch is not None:
                self._watch.stop()
        if self._widgets:
            self._status.value = self._status_html()
        elif kind not in ("listening", "waiting") or len(self.history) == 1:
            print(f"[{kind}] {message}", flush=True)

    def tick(self) -> None:
        if self._deadline is None or self.kind not in _STILL_WAITING:
            _ticker.discard(self)
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
            _display(self.widget)
        else:
            print(f"{self.label}: {self.url}", flush=True)
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"SignInPanel({self.kind}: {self.status_text})"


def _panel_events(panel: SignInPanel, timeout: float) -> EventCallback:
    """The flow's events, shown on the panel: "waiting" starts its countdown (the flow itself
    watches the sandbox)."""

    def on_event(kind: Kind, message: str) -> None:
        if kind == "waiting":
            panel.start_countdown(timeout, message, watch=False)
        else:
            panel.on_event(kind, message)

    return on_event


def _show_failure(panel: SignInPanel, error: BaseException) -> None:
    if isinstance(error, KeyboardInterrupt):
        panel.set_status("stopped", "Interrupted: stopped listening.")
    elif panel.kind not in ("error", "timeout"):
        panel.set_status("error", str(error))


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


def _this_cell_run() -> _CellRun | None:
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


def _refuse_a_repeat(run: _CellRun | None) -> None:
    """``RepeatedSignIn`` when this cell was asked to run again before its last sign-in ended.

    Both times come from the frontend's clock, so the comparison holds whatever the kernel's.
    """
    last = _last_sign_in
    if run is None or last is None or last.run.cell != run.cell:
        return
    if run.sent_at - last.run.sent_at < last.took:
        raise RepeatedSignIn()


def _record(run: _CellRun | None, started: float) -> None:
    global _last_sign_in
    if run is not None:
        _last_sign_in = _SignInDone(run, time.monotonic() - started)


def wait_for_callback(
    config: OAuthConfig,
    request: AuthorizationRequest,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    panel: SignInPanel | None = None,
    paste: bool = True,
    button: str = "Allow",
) -> CallbackResult:
    """Show the sign-in panel, listen on the redirect URI, open the browser, wait.

    Returns the callback (its code masked in every representation), or raises what
    ``CallbackListener.wait`` raises: ``AuthorizationDenied``, ``CallbackTimeout``... With
    ``paste`` (the default), a timeout or an interrupt (■) first asks for the address the
    browser ended on (remote Jupyter: the browser cannot reach this kernel), checked like a
    callback; where the kernel cannot ask (no stdin), the error is raised as before.
    ``button``: what the panel asks the learner to click on the consent page (Allow, Deny).
    With the local sandbox (``config.is_sandbox``), the wait ends with ``SandboxStopped`` if
    the sandbox stops answering. A cell run again while its sign-in waited raises
    ``RepeatedSignIn`` instead of starting another.
    """
    run = _this_cell_run()
    _refuse_a_repeat(run)
    started = time.monotonic()
    panel = panel or SignInPanel(request.url, timeout=timeout)
    panel.show()
    try:
        result = flow.wait_for_code(
            request,
            timeout=timeout,
            on_event=_panel_events(panel, timeout),
            open_browser=open_browser,
            ask=input if paste else None,
            sandbox=flow.sandbox_url(config),
            button=button,
        )
    except (OAuthTutorialError, KeyboardInterrupt) as e:
        _show_failure(panel, e)
        raise
    _record(run, started)
    print(f"Callback received: {result!r}", flush=True)
    return result


def sign_in(
    config: OAuthConfig,
    *,
    scopes: Sequence[str] | None = None,
    pkce: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    save: bool = False,
    trace: Trace | None = None,
    paste: bool = True,
) -> Token:
    """The whole flow in one call (``flow.sign_in``), with the sign-in panel.

    For notebooks that need a token but teach something else. ``save=True`` also saves it
    with ``TokenStore().save``. ``paste``, the sandbox watch and ``RepeatedSignIn``: as in
    ``wait_for_callback``.
    """
    run = _this_cell_run()
    _refuse_a_repeat(run)
    started = time.monotonic()
    request = AuthorizationRequest.new(config, scopes=scopes, pkce=pkce)
    panel = SignInPanel(request.url, timeout=timeout)
    panel.show()
    try:
        token = flow.sign_in(
            config,
            request=request,
            timeout=timeout,
            on_event=_panel_events(panel, timeout),
            open_browser=open_browser,
            trace=trace,
            ask=input if paste else None,
        )
    except (OAuthTutorialError, KeyboardInterrupt) as e:
        _show_failure(panel, e)
        raise
    _record(run, started)
    print(f"Token received: {token!r}", flush=True)
    if save:
        path = TokenStore().save(token)
        print(f"Saved to {path} (readable only by you).", flush=True)
    return token


def saved_or_new_token(
    config: OAuthConfig,
    *,
    store: TokenStore | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Token:
    """The token 04_token_exchange saved (refreshed if it expired), or a fresh sign-in.

    ``flow.saved_or_new_token`` decides; a new sign-in shows the panel. A new token is saved
    for the next notebook. Says in one line which it was.
    """
    return flow.saved_or_new_token(
        config,
        store,
        new_token=lambda: sign_in(config, timeout=timeout),
        say=lambda line: print(line, flush=True),
    )


# --- scopes ----------------------------------------------------------------------------------


class ScopePicker:
    """Checkboxes, one per scope; ``.scopes`` is what is ticked."""

    def __init__(
        self,
        selected: Sequence[str] = ("messaging.v1.send",),
        *,
        available: dict[str, str] | None = None,
        widgets: bool | None = None,
    ) -> None:
        self.available = dict(available or KNOWN_SCOPES)
        for scope in selected:
            self.available.setdefault(scope, "")
        self._selected = [s for s in self.available if s in selected]
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.checkboxes: dict[str, object] = {}
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            for scope, what in self.available.items():
                box = w.Checkbox(
                    value=scope in self._selected,
                    description=f"{scope}" + (f" — {what}" if what else ""),
                    indent=False,
                    layout=w.Layout(width="auto"),
                )
                self.checkboxes[scope] = box
            self.widget = w.VBox(list(self.checkboxes.values()))

    @property
    def scopes(self) -> tuple[str, ...]:
        if self._widgets:
            return tuple(s for s, box in self.checkboxes.items() if box.value)
        return tuple(self._selected)

    def select(self, *scopes: str) -> None:
        """Tick exactly these scopes."""
        self._selected = [s for s in self.available if s in scopes]
        for scope, box in self.checkboxes.items():
            box.value = scope in scopes

    def show(self) -> ScopePicker:
        if self._widgets:
            _display(self.widget)
        else:
            for scope, what in self.available.items():
                mark = "x" if scope in self.scopes else " "
                print(f"[{mark}] {scope}" + (f" — {what}" if what else ""))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"ScopePicker(scopes={' '.join(self.scopes)!r})"


# --- the token card --------------------------------------------------------------------------


class TokenCard:
    """A token at a glance: masked values, principal, scopes and a live expiry countdown."""

    def __init__(self, token: Token, *, widgets: bool | None = None) -> None:
        self.token = token
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self._expiry = w.HTML(self._expiry_html())
            self.widget = w.VBox([w.HTML(self._table_html()), self._expiry])

    def rows(self) -> list[tuple[str, str]]:
        return self.token.rows()

    def expiry_text(self) -> str:
        left = self.token.expires_in
        if left is None:
            return "The server gave no lifetime."
        if left <= 0:
            return f"Expired {-left} s ago: refresh it or sign in again."
        minutes, seconds = divmod(left, 60)
        return f"Expires in {minutes} min {seconds:02d} s."

    def _table_html(self) -> str:
        return html_table(self.rows())

    def _expiry_html(self) -> str:
        colour = "#b00" if self.token.is_expired() else "#070"
        return f'<span style="color:{colour}">⏱ {escape(self.expiry_text())}</span>'

    def tick(self) -> None:
        if self._widgets:
            self._expiry.value = self._expiry_html()
        if self.token.is_expired():
            _ticker.discard(self)

    def show(self) -> TokenCard:
        if self._widgets:
            _display(self.widget)
            _ticker.add(self)
        else:
            print(str(self))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = [f"{k:<{width}}  {v}" for k, v in self.rows()]
        return "\n".join([*lines, f"{'Lifetime':<{width}}  {self.expiry_text()}"])

    def __repr__(self) -> str:
        return f"TokenCard({self.token!r})"


# --- the paste fallback -----------------------------------------------------------------------


class PasteBox:
    """A text box for the address the browser ended on, checked by ``parse_callback_url``.

    For remote Jupyter, where the browser cannot reach the kernel's 127.0.0.1. ``result`` holds
    the accepted callback; ``on_result(result)`` is called when one is accepted.
    """

    def __init__(
        self,
        request: AuthorizationRequest,
        *,
        on_result: Callable[[CallbackResult], None] | None = None,
        widgets: bool | None = None,
    ) -> None:
        self.request = request
        self.on_result = on_result
        self.result: CallbackResult | None = None
        self.message = "Paste the whole address from the browser's address bar."
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self.text = w.Text(
                placeholder=request.redirect_uri + "?code=…&state=…",
                layout=w.Layout(width="100%"),
            )
            self.button = w.Button(description="Check", icon="check")
            self.button.on_click(lambda _: self.submit(self.text.value))
            self._status = w.HTML(escape(self.message))
            self.widget = w.VBox([w.HBox([self.text, self.button]), self._status])

    def submit(self, address: str) -> CallbackResult | None:
        """Check an address; returns the callback, or None (the reason is in ``message``)."""
        try:
            result = parse_callback_url(address, self.request.redirect_uri, self.request.state)
        except OAuthTutorialError as e:
            self._say(f"❌ {type(e).__name__}: {e}")
            return None
        self.result = result
        self._say(f"✅ Accepted: {result!r}")
        if self.widget is not None:
            self.text.value = ""  # the code is a credential: do not leave it on screen
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _say(self, message: str) -> None:
        self.message = message
        if self._widgets:
            self._status.value = escape(message)
        else:
            print(message, flush=True)

    def show(self) -> PasteBox:
        if self._widgets:
            _display(self.widget)
        else:
            print(self.message + " Then call .submit(address).")
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()


# --- the HTTP exchanges -----------------------------------------------------------------------


class TraceView:
    """The HTTP exchanges of a ``Trace`` (already redacted), one collapsible block each."""

    def __init__(self, trace: Trace, *, widgets: bool | None = None) -> None:
        self.trace = trace
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self.widget = w.Accordion()
            self.refresh()

    def titles(self) -> list[str]:
        return [f"{e.method} {e.url} → {e.status}" for e in self.trace.exchanges]

    def refresh(self) -> None:
        """Redraw from the trace (after more calls were recorded)."""
        if not self._widgets:
            return
        import ipywidgets as w

        children = [
            w.HTML(f"<pre style='white-space:pre-wrap'>{escape(str(e))}</pre>")
            for e in self.trace.exchanges
        ]
        self.widget.children = children
        self.widget.titles = tuple(self.titles())
        if children:
            self.widget.selected_index = len(children) - 1

    def show(self) -> TraceView:
        if self._widgets:
            self.refresh()
            _display(self.widget)
        else:
            print(str(self.trace))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"TraceView({len(self.trace.exchanges)} exchange(s))"
