"""Stage 3: listen on the redirect URI for the authorization server's callback.

    >>> from helpers.callback import CallbackListener
    >>> listener = CallbackListener(config.redirect_uri, expected_state=request.state).start()
    >>> # ... the learner signs in and clicks Allow in the browser ...
    >>> listener.wait(timeout=300)     # a CallbackResult, or a named error
    CallbackResult(code='…x9Q=', state='...', received_at='2025-01-01T12:00:00+00:00')

The listener *has* a small stdlib HTTP server (``helpers/callback_http.py``) that runs in a
background thread on the redirect URI's loopback address and port. It answers every request
and keeps waiting until one is a genuine callback: a GET on the redirect URI's path whose
``state`` matches the one this sign-in sent (``helpers/callback_check.py``); forged or stray
requests are answered (403, 404, 405...) and ignored. ``wait()`` returns the code, or raises
``AuthorizationDenied``, ``AuthorizationFailed`` or ``CallbackTimeout``; either way the port is
freed; a listener nobody waits on stops by itself after 10 minutes. When the browser cannot
reach this kernel (remote Jupyter), ``parse_callback_url`` checks the address it ended on.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from urllib.parse import urlsplit

from .callback_check import FINAL, CallbackResult, Outcome, judge, parse_callback_url
from .callback_http import ALREADY_COMPLETE, Handler, Server, not_found_page, page_for
from .config import check_redirect_uri
from .errors import CallbackTimeout, CannotListen, ListenerStopped, PortInUse
from .events import MAX_MESSAGE, EventCallback, Kind, ListenerEvent, emit
from .redact import printable

__all__ = ["CallbackListener", "CallbackResult", "ListenerEvent", "parse_callback_url"]

#: Seconds a started listener serves before it stops by itself, unless ``wait()`` takes over.
#: Generous: in the notebooks the learner reads a few cells between starting and waiting.
START_TIMEOUT = 600.0


# (host, port) -> the listener this process started there last: a cell run again must stop
# the old one first. A stopped entry is harmless (stopping it again does nothing).
_running: dict[tuple[str, int], CallbackListener] = {}
# Guards _running and each listener's _server and _outcome. Held for a few assignments only,
# never while joining a thread or reporting an event, so no two threads can wait on each other.
_lock = threading.Lock()


class CallbackListener:
    """A background HTTP server on the redirect URI that waits for one genuine callback.

    ``redirect_uri``: the registered redirect URI, ``http://127.0.0.1:<port>/<path>`` (or
    ``[::1]``, or ``localhost``, which binds 127.0.0.1). ``expected_state``: the state this
    sign-in's authorization request sent. ``on_event(kind, message)``: optional, called with
    kind listening, ignored, received, error, stopped or timeout; requests are reported from
    the server's threads, the rest from the thread calling ``start()``, ``stop()`` or
    ``wait()``. It must be quick, and its exceptions are ignored. Use as a context manager, or
    ``start()`` then ``wait()``. ``return_to``: where the browser's pages send the learner back
    to ("the terminal").
    """

    def __init__(
        self,
        redirect_uri: str,
        expected_state: str,
        *,
        on_event: EventCallback | None = None,
        return_to: str = "the notebook",
    ) -> None:
        why = check_redirect_uri(redirect_uri)
        parts = urlsplit(redirect_uri)
        if why is None and not parts.port:
            why = "needs an explicit port, e.g. http://127.0.0.1:5000/login/oauth2/code/goto"
        if why:
            raise ValueError(f"The redirect URI {redirect_uri!r} {why}.")
        if not expected_state:
            raise ValueError("expected_state must be the state sent in the authorization request.")
        host = parts.hostname or ""
        # RFC 8252 §7.3/§8.3: listen on the loopback address only, never on all interfaces;
        # 'localhost' is bound as the literal 127.0.0.1.
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port: int = parts.port or 0
        self.path = parts.path or "/"
        self.redirect_uri = redirect_uri
        self._expected_state = expected_state
        self._on_event = on_event
        self.return_to = return_to  # where the browser's page sends the learner back to

        self._server: Server | None = None  # while serving: set by start(), cleared by stop()
        self._thread: threading.Thread | None = None  # the serving thread, once started
        # How the sign-in ended: the first final callback, or the timeout or stop() that came
        # first. _done is set once the browser has its page, so wait() can block on it.
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._deadline: float | None = None  # start()'s (monotonic); wait() drops it
        self._status: ListenerEvent | None = None

    # --- public ---------------------------------------------------------------------------

    def start(self, timeout: float | None = START_TIMEOUT) -> CallbackListener:
        """Bind the port and serve in a background thread; returns at once.

        If no ``wait()`` begins within ``timeout`` seconds (None: no limit), the listener stops
        by itself with a "timeout" event and frees the port; a later ``wait()`` then raises
        ``CallbackTimeout`` at once. Raises ``PortInUse`` if another program holds the port. A
        listener this process runs on the same address (from an earlier run of the cell) is
        stopped first.
        """
        key = (self.host, self.port)
        with _lock:
            if self._server is not None:
                return self
            if self._thread is not None or self._outcome is not None:
                raise RuntimeError(
                    "This listener has stopped; a listener serves one sign-in. Create a new "
                    "CallbackListener for a new sign-in."
                )
            previous = _running.get(key)
        if previous is not None:
            previous.stop()
        try:
            server = Server((self.host, self.port), self)
        except OSError as exc:
            # WSAEACCES (10013): Windows' answer when the port is held exclusively.
            if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10013:
                raise PortInUse(self.host, self.port) from exc
            raise CannotListen(self.host, self.port, exc.strerror or str(exc)) from exc
        thread = threading.Thread(
            target=self._serve, args=(server, timeout), name=f"callback-listener-{self.port}"
        )
        thread.daemon = True  # a listener never keeps the kernel from exiting
        with _lock:
            self._server, self._thread, _running[key] = server, thread, self
            self._deadline = None if timeout is None else time.monotonic() + timeout
        # The socket already accepts connections (they queue until the thread takes them),
        # so say so now: listener.status is meaningful as soon as start() returns.
        self._emit("listening", f"Listening on {self.redirect_uri} for the callback.")
        thread.start()
        return self

    def wait(self, timeout: float | None = 300.0) -> CallbackResult:
        """Block until the genuine callback arrives; stop the server whatever happens.

        Returns the ``CallbackResult``, or raises ``AuthorizationDenied``,
        ``AuthorizationFailed`` or ``CallbackTimeout`` (after ``timeout`` seconds; None waits
        forever). Starts the listener if ``start()`` was not called. Interrupting the kernel
        also stops the server and frees the port. Once waiting, ``timeout`` alone counts: the
        deadline of ``start()`` no longer applies. On a listener that has finished, ``wait()``
        answers at once with the same outcome (so a re-run cell shows it again), or
        ``ListenerStopped`` if it was stopped without one.
        """
        if self._thread is None and self._outcome is None:
            self.start(timeout=None)  # wait()'s own timeout is the deadline
        self._deadline = None
        try:
            if not self._wait_done(timeout) and self._end(
                CallbackTimeout(timeout or 0.0, self.redirect_uri)
            ):
                self._emit("timeout", f"No valid callback arrived within {timeout or 0:g} s.")
            outcome = self._outcome
            if isinstance(outcome, CallbackResult):
                return outcome
            raise outcome  # type: ignore[misc]  # set: _wait_done or _end saw to it
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and free the port at once. Safe to call more than once."""
        with _lock:
            server, self._server = self._server, None
        self._end(ListenerStopped())  # a wait() in another thread stops waiting too
        if server is None:
            return
        thread = self._thread
        if thread is not threading.current_thread():
            # The serving thread sleeps until a connection arrives: make one, so it sees at
            # once that it must stop (the stdlib's serve_forever() would notice only at its
            # next poll, up to 0.5 s later). Then close the socket it no longer uses.
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=0.5).close()
            if thread is not None:
                thread.join(2.0)
        server.server_close()
        self._emit("stopped", f"Stopped listening on port {self.port}.")

    @property
    def is_running(self) -> bool:
        """True while the server accepts connections."""
        return self._server is not None

    @property
    def result(self) -> CallbackResult | None:
        """The genuine callback once it arrived (also after the listener stopped), else None."""
        outcome = self._outcome
        return outcome if isinstance(outcome, CallbackResult) else None

    @property
    def status(self) -> ListenerEvent | None:
        """The latest event (``.kind``, ``.message``, ``.at``), or None before the first."""
        return self._status

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) the server socket is bound to, while it runs."""
        server = self._server
        return None if server is None else tuple(server.server_address[:2])  # type: ignore[return-value]

    def __enter__(self) -> CallbackListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else ("stopped" if self._thread else "not started")
        return f"CallbackListener({self.redirect_uri!r}, {state})"

    # --- the waiting side -----------------------------------------------------------------

    def _wait_done(self, timeout: float | None) -> bool:
        # Wait in short slices: a blocked Event.wait() only notices a simulated interrupt
        # (_thread.interrupt_main(), what some kernels send instead of a real SIGINT) when it
        # returns, so one long wait would ignore the Interrupt button until the deadline.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self._done.is_set()
            if self._done.wait(0.1 if left is None else min(0.1, left)):
                return True

    def _claim(self, outcome: Outcome) -> bool:
        """Record how the sign-in ended, if nothing did before; True if this call did."""
        with _lock:
            if self._outcome is not None:
                return False
            self._outcome = outcome
            return True

    def _end(self, outcome: Outcome) -> bool:
        """``_claim`` and wake ``wait()`` at once (a timeout or a stop: no page to write)."""
        claimed = self._claim(outcome)
        self._done.set()
        return claimed

    # --- the serving side (the server's threads) ------------------------------------------

    def _serve(self, server: Server, timeout: float | None) -> None:
        """Hand each connection to a thread of its own, until stop() or start()'s deadline."""
        while self._server is server:
            deadline = self._deadline
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:  # nobody waited: give the port back
                claimed = self._end(CallbackTimeout(timeout or 0.0, self.redirect_uri))
                self.stop()
                if claimed:
                    self._emit(
                        "timeout",
                        f"No callback within {timeout or 0:g} s of starting: stopped listening "
                        f"and freed port {self.port}. Run the cell that starts the listener "
                        "again to sign in.",
                    )
                return
            server.timeout = left  # handle_request() returns after this long without one
            server.handle_request()

    def _answer(self, handler: Handler) -> None:
        """Answer a GET: the callback, or anything else a browser sends."""
        path, query = handler.path_and_query()
        if path != self.path:
            self._emit("ignored", f"GET {printable(path, 80)} answered 404 (not the callback path)")
            handler.send_page(*not_found_page(path))
            return
        outcome = judge(query, self._expected_state)
        if not isinstance(outcome, FINAL):
            status, title, paragraphs = page_for(outcome)
            self._emit("ignored", f"callback refused ({status}): {title}")
            handler.send_page(status, title, paragraphs)
            return
        if self._claim(outcome):  # the first final callback wins
            try:
                handler.send_page(*page_for(outcome))
            finally:
                # Wake wait() only once the page is written, so the browser gets it even when
                # the caller stops the server (or the program ends) right away.
                if isinstance(outcome, CallbackResult):
                    self._emit(
                        "received", "Callback received with the right state; the code is ready."
                    )
                else:
                    self._emit("error", str(outcome))
                self._done.set()
            return
        self._emit("ignored", "callback after the sign-in had already completed")
        handler.send_page(*ALREADY_COMPLETE)

    def _emit(self, kind: Kind, message: str) -> None:
        self._status = ListenerEvent(kind, printable(message, MAX_MESSAGE))
        emit(self._on_event, kind, message)
