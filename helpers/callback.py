"""Stage 3: listen on the redirect URI for the authorization server's callback.

    >>> from helpers.callback import CallbackListener
    >>> listener = CallbackListener(config.redirect_uri, expected_state=request.state).start()
    >>> # ... the learner signs in and clicks Allow in the browser ...
    >>> result = listener.wait(timeout=300)     # CallbackResult, or a named error
    >>> result
    CallbackResult(code='…x9Q=', state='...', received_at='2025-01-01T12:00:00+00:00')

The listener *has* a small stdlib HTTP server (``ThreadingHTTPServer``) that runs in a
background thread on the redirect URI's loopback address and port. It answers every request
with a short page and keeps waiting until one request is a genuine callback: a GET on the
redirect URI's path whose ``state`` matches the one this sign-in sent. Forged or stray
requests are answered (403, 404, 405...) and ignored. ``wait()`` returns the code, or raises
``AuthorizationDenied`` (the user clicked Deny), ``AuthorizationFailed`` (another ``error=``)
or ``CallbackTimeout``; either way the server is stopped and the port freed. A listener that
is started but never waited on stops by itself at the deadline ``start()`` arms (10 minutes by
default), so a notebook left half-way does not hold the port until its kernel dies.

When Jupyter runs on another machine the browser cannot reach this kernel's 127.0.0.1: the
learner copies the address the browser ended on, and ``parse_callback_url`` runs the very same
checks on it.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .config import check_redirect_uri
from .errors import (
    AuthorizationDenied,
    AuthorizationFailed,
    CallbackError,
    CallbackTimeout,
    CannotListen,
    InvalidCallbackAddress,
    ListenerStopped,
    PortInUse,
    StateMismatch,
)
from .events import MAX_MESSAGE, EventCallback, Kind, emit
from .redact import mask, printable

__all__ = ["CallbackListener", "CallbackResult", "ListenerEvent", "parse_callback_url"]

#: Seconds a started listener serves before it stops by itself, unless ``wait()`` takes over.
#: Generous: in the notebooks the learner reads a few cells between starting and waiting.
START_TIMEOUT = 600.0

#: Seconds a connection may stay silent before the listener gives up on it. A browser opens
#: spare "preconnect" sockets and may never use them; they must not hold anything up.
READ_TIMEOUT = 5.0

# Echoed values are cut to these lengths: a page or an error message is not a data dump.
_MAX_ECHO = 300
_MAX_ERROR_CODE = 100


@dataclass(frozen=True, repr=False)
class CallbackResult:
    """A genuine callback: the authorization code, and the state it came back with.

    The code is a credential until it is exchanged, so no representation shows it.
    """

    code: str
    state: str
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __repr__(self) -> str:
        return (
            f"CallbackResult(code={mask(self.code)!r}, state={self.state!r}, "
            f"received_at={self.received_at.isoformat(timespec='seconds')!r})"
        )


@dataclass(frozen=True)
class ListenerEvent:
    """One thing that happened to a listener (``listener.status`` is the latest)."""

    kind: Kind
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


# --- judging a callback: shared by the listener and the paste fallback --------------------------

#: What a request to the redirect URI's path amounts to: the code, or the error it is.
Outcome = CallbackResult | CallbackError

#: The outcomes that end a sign-in. The others (a forgery, a request without a code) are
#: answered and the listener keeps waiting for the genuine callback.
_FINAL = (CallbackResult, AuthorizationDenied, AuthorizationFailed)


def _same_state(received: str, expected: str) -> bool:
    # Constant-time comparison, so timing reveals nothing about the expected state.
    # compare_digest takes str only when ASCII, so compare the UTF-8 bytes.
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _judge(query: str, expected_state: str) -> Outcome:
    """Judge the query of a request to the redirect URI's path.

    The order matters: the state is checked before anything else is believed, so a forged
    ``error=access_denied`` cannot end a sign-in (RFC 6749 §10.12, CSRF).
    """
    try:
        params = parse_qs(query, keep_blank_values=True, max_num_fields=50)
    except ValueError:
        return InvalidCallbackAddress("it has too many parameters to be a callback")
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:  # RFC 6749 §3.1: parameters must not be included more than once.
        return InvalidCallbackAddress(
            f"the parameter {printable(repeated[0], 40)!r} appears more than once"
        )
    one = {name: values[0] for name, values in params.items()}

    state = one.get("state")
    if state is None or not _same_state(state, expected_state):
        return StateMismatch()
    error = one.get("error")
    if error is not None:
        description = printable(one.get("error_description") or "", _MAX_ECHO) or None
        if error == "access_denied":
            return AuthorizationDenied(description)
        return AuthorizationFailed(printable(error, _MAX_ERROR_CODE), description)
    code = one.get("code")
    if not code:
        return InvalidCallbackAddress("it carries the right state but no code")
    return CallbackResult(code=code, state=state)


_QUOTES = " \t\r\n\"'`<>"


def parse_callback_url(address: str, redirect_uri: str, expected_state: str) -> CallbackResult:
    """Check an address pasted from the browser, exactly as the listener checks a callback.

    For remote Jupyter (JupyterHub, Binder, SSH, Docker, WSL): the browser cannot reach the
    kernel's 127.0.0.1 and ends on an error page whose address bar still holds the callback.

    Only the path is compared with the redirect URI, not the scheme, host or port: loopback
    redirects may legitimately arrive on another port (RFC 8252 §7.3) or through a forwarded
    one, and the state check, not the address, is what proves the callback belongs to this
    sign-in. On JupyterHub the browser ends under jupyter-server-proxy's prefix
    (``/user/<name>/proxy/<port>`` + the path; ``/proxy/<port>`` on a single Jupyter server),
    which is accepted too. Raises ``StateMismatch``, ``AuthorizationDenied``, ``AuthorizationFailed`` or
    ``InvalidCallbackAddress``; surrounding whitespace and quotes are ignored.
    """
    text = (address or "").strip(_QUOTES)
    if not text:
        raise InvalidCallbackAddress("it is empty")
    try:
        parts = urlsplit(text)
        expected_path = urlsplit(redirect_uri).path or "/"
    except ValueError:
        raise InvalidCallbackAddress("it is not a web address") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidCallbackAddress("it is not a web address starting with http://")
    if not _is_callback_path(parts.path or "/", expected_path):
        raise InvalidCallbackAddress(
            f"its path is {printable(parts.path or '/', 80)!r}, not the redirect URI's "
            f"{expected_path!r}"
        )
    if not parts.query:
        raise InvalidCallbackAddress("it has no ?code=...&state=... part")
    outcome = _judge(parts.query, expected_state)
    if isinstance(outcome, CallbackError):
        raise outcome
    return outcome


def _is_callback_path(path: str, expected: str) -> bool:
    """``expected``, alone or behind jupyter-server-proxy's ``.../proxy/<port>`` prefix."""
    if path == expected:
        return True
    _, proxy, port_and_path = path.rpartition("/proxy/")
    port, slash, rest = port_and_path.partition("/")
    return bool(proxy) and port.isdigit() and slash + rest == expected


# --- the page the browser is shown --------------------------------------------------------------

#: The page for each outcome that is an error: HTTP status, and the title. The text is the
#: error's own message, so the page and the notebook say the same thing.
_ERROR_PAGES: dict[type[CallbackError], tuple[int, str]] = {
    StateMismatch: (403, "Callback refused: state check failed"),
    InvalidCallbackAddress: (400, "Not a valid callback"),
    AuthorizationDenied: (200, "Access was not granted"),
    AuthorizationFailed: (200, "Sign-in failed"),
}
_WHY_STATE = (
    "The state parameter ties a callback to the sign-in that started it. Checking it stops a "
    "forged callback (cross-site request forgery, RFC 6749 §10.12) from slipping someone else's "
    "code into your session."
)
_STILL_WAITING = "The listener is still waiting for the genuine callback."


def _page(outcome: Outcome) -> tuple[int, str, tuple[str, ...]]:
    """The answer to a callback: HTTP status, title, and paragraphs (plain text)."""
    if isinstance(outcome, CallbackResult):
        return 200, "Signed in", ("Signed in — you can close this tab and return to the notebook.",)
    status, title = _ERROR_PAGES[type(outcome)]
    if isinstance(outcome, _FINAL):
        return status, title, (str(outcome),)
    why = (_WHY_STATE,) if isinstance(outcome, StateMismatch) else ()
    return status, title, (str(outcome), *why, _STILL_WAITING)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;"
    "line-height:1.5;color:#222}"
)


def _html(title: str, paragraphs: tuple[str, ...]) -> bytes:
    """A small HTML page. Every piece of text is escaped here, once."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    ).encode()


# --- the listener ---------------------------------------------------------------------------

# (host, port) -> the listener this process started there last. A cell run again starts a new
# listener on the port the old one still holds; the old one must give it up first. An entry
# that has stopped is harmless (stopping it again does nothing), so none is ever removed.
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

        self._server: _Server | None = None  # while serving: set by start(), cleared by stop()
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
            server = _Server((self.host, self.port), self)
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

    def _serve(self, server: _Server, timeout: float | None) -> None:
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

    def _answer(self, handler: _Handler) -> None:
        """Answer a GET: the callback, or anything else a browser sends."""
        target = handler.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            target = urlsplit(target)._replace(scheme="", netloc="").geturl()
        path, _, query = target.partition("#")[0].partition("?")
        if path != self.path:
            self._emit("ignored", f"GET {printable(path, 80)} answered 404 (not the callback path)")
            handler.send_page(
                404,
                "Not found",
                (
                    f"Nothing here at {printable(path, 200)}.",
                    "This small server only receives the OAuth callback for the notebook.",
                ),
            )
            return
        outcome = _judge(query, self._expected_state)
        if not isinstance(outcome, _FINAL):
            status, title, paragraphs = _page(outcome)
            self._emit("ignored", f"callback refused ({status}): {title}")
            handler.send_page(status, title, paragraphs)
            return
        if self._claim(outcome):  # the first final callback wins
            try:
                handler.send_page(*_page(outcome))
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
        handler.send_page(
            200,
            "Sign-in already complete",
            (
                "This sign-in is already complete, so this request was ignored.",
                "You can close this tab and return to the notebook.",
            ),
        )

    def _emit(self, kind: Kind, message: str) -> None:
        self._status = ListenerEvent(kind, printable(message, MAX_MESSAGE))
        emit(self._on_event, kind, message)


# --- HTTP ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection, in a thread of its own. The listener decides; this speaks HTTP."""

    protocol_version = "HTTP/1.1"
    server_version = "oauth-tutorial-callback"
    sys_version = ""
    # The stdlib applies this to the socket: an idle preconnect or a half-sent request ends
    # after this many seconds, in its own thread.
    timeout = READ_TIMEOUT

    server: _Server

    def do_GET(self) -> None:
        self.server.listener._answer(self)

    def _method_not_allowed(self) -> None:
        self.server.listener._emit("ignored", f"{self.command} request answered 405")
        self.send_page(
            405,
            "Method not allowed",
            ("This address only answers the browser's GET redirect.",),
            extra=("Allow: GET",),
        )

    # Every method the stdlib knows; others get its 501 (send_error below).
    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed
    do_OPTIONS = do_CONNECT = do_TRACE = _method_not_allowed

    def send_page(
        self, status: int, title: str, paragraphs: tuple[str, ...], extra: tuple[str, ...] = ()
    ) -> None:
        """Write the whole response in one send, and close the connection afterwards.

        One send avoids the Nagle + delayed-ACK stall (~40 ms) of headers and body written
        separately; ``Connection: close`` avoids keep-alive connections that hold a thread.
        """
        back_to = self.server.listener.return_to
        paragraphs = tuple(p.replace("the notebook", back_to) for p in paragraphs)
        body = b"" if self.command == "HEAD" else _html(title, paragraphs)
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: text/html; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Connection: close",
            "Cache-Control: no-store",
            "Referrer-Policy: no-referrer",
            "X-Content-Type-Options: nosniff",
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'",
            *extra,
        )
        self.close_connection = True
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Called by the stdlib for malformed requests, over-long lines (414), too many or too
        # long headers (431) and unknown methods (501).
        # Never echo its message: for a malformed request line it quotes the line, code and all.
        self.server.listener._emit("ignored", f"malformed request answered {code}")
        status = HTTPStatus(code)
        try:
            self.send_page(code, f"{code} {status.phrase}", (status.description,))
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        # The stdlib would write to stderr (the notebook) whenever an idle connection times out,
        # and every request line if send_response() were used: events go to on_event instead.
        pass

    def finish(self) -> None:
        super().finish()
        _linger(self.connection)


def _linger(sock: socket.socket, seconds: float = 1.0, limit: int = 1 << 20) -> None:
    """Close our side gently: send FIN, then read what the client still sends.

    Closing a socket with unread request bytes (an over-long address, a POST body) makes the
    kernel send a reset, and the client may then lose our response (an error page) on the way.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        received = 0
        while received < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    """The stdlib's threaded HTTP server, bound for a loopback listener."""

    daemon_threads = True  # a stuck connection never keeps the kernel from exiting
    # Stop-then-restart on the same port works at once (no TIME_WAIT refusal). On Windows
    # SO_REUSEADDR would let two programs share a port, so there we ask for exclusive use.
    allow_reuse_address = os.name != "nt"
    request_queue_size = 128  # a burst of connections waits in the backlog, not in SYN retries

    def __init__(self, address: tuple[str, int], listener: CallbackListener) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listener = listener
        super().__init__(address, _Handler)

    def verify_request(self, request: object, client_address: object) -> bool:
        # A connection accepted after stop() (its own wake-up call, say) is closed at once,
        # without a thread of its own.
        return self.listener._server is self

    def server_bind(self) -> None:
        if os.name == "nt":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        # HTTPServer.server_bind also calls socket.getfqdn(), a reverse DNS lookup that can
        # take seconds on some machines; a loopback listener needs no host name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        # The stdlib prints a traceback to stderr (the notebook); a reset connection is not
        # worth one. Report it as an ignored request instead, naming the exception.
        kind = type(sys.exc_info()[1]).__name__
        self.listener._emit("ignored", f"a connection failed while being answered ({kind})")
