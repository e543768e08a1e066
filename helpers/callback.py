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
import selectors
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .config import check_redirect_uri, mask
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

__all__ = ["CallbackListener", "CallbackResult", "ListenerEvent", "parse_callback_url"]

#: Signature of ``on_event``: ``(kind, message)``. Kinds: listening, ignored, received, error,
#: stopped, timeout.
EventCallback = Callable[[str, str], None]

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

    kind: str
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


# --- judging a callback: shared by the listener and the paste fallback --------------------------


@dataclass(frozen=True)
class _Verdict:
    """What a request to the redirect URI's path amounts to."""

    status: int  # the HTTP status the listener answers with
    title: str
    paragraphs: tuple[str, ...]  # plain text; escaped when the page is built
    result: CallbackResult | None = None
    error: CallbackError | None = None  # what parse_callback_url raises
    final: bool = False  # True when it ends the wait: the code, or an error= with the right state

    @property
    def reason(self) -> str:
        return self.paragraphs[0]


def _clip(value: str, limit: int = _MAX_ECHO) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


def _same_state(received: str, expected: str) -> bool:
    # Constant-time comparison, so timing reveals nothing about the expected state.
    # compare_digest takes str only when ASCII, so compare the UTF-8 bytes.
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _judge(query: str, expected_state: str) -> _Verdict:
    """Judge the query of a request to the redirect URI's path.

    The order matters: the state is checked before anything else is believed, so a forged
    ``error=access_denied`` cannot end a sign-in (RFC 6749 §10.12, CSRF).
    """
    try:
        params = parse_qs(query, keep_blank_values=True, max_num_fields=50)
    except ValueError:
        why = "it has too many parameters to be a callback"
        return _Verdict(400, "Not a callback", (why,), error=InvalidCallbackAddress(why))
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:
        # RFC 6749 §3.1: parameters must not be included more than once.
        why = f"the parameter {_clip(repeated[0], 40)!r} appears more than once"
        return _Verdict(400, "Not a valid callback", (why,), error=InvalidCallbackAddress(why))
    one = {name: values[0] for name, values in params.items()}

    state = one.get("state")
    if state is None or not _same_state(state, expected_state):
        what = (
            "This callback has no state"
            if state is None
            else "This callback's state does not match the one this sign-in sent"
        )
        return _Verdict(
            403,
            "Callback refused: state check failed",
            (
                f"{what}, so it was refused.",
                "The state parameter ties a callback to the sign-in that started it. Checking it "
                "stops a forged callback (cross-site request forgery, RFC 6749 §10.12) from "
                "slipping someone else's code into your session.",
                "The listener is still waiting for the genuine callback. If you started several "
                "sign-ins, use the link from the latest one.",
            ),
            error=StateMismatch(),
        )

    error = one.get("error")
    if error is not None:
        description = one.get("error_description") or None
        if description is not None:
            description = _clip(description)
        if error == "access_denied":
            return _Verdict(
                200,
                "Access was not granted",
                (
                    "You clicked Deny (error=access_denied), so no code was issued.",
                    f"The server said: {description}" if description else "",
                    "Return to the notebook to read what happened; start a new sign-in to try "
                    "again.",
                ),
                error=AuthorizationDenied(description),
                final=True,
            )
        error = _clip(error, _MAX_ERROR_CODE)
        return _Verdict(
            200,
            "Sign-in failed",
            (
                f"The authorization server sent you back with error={error}.",
                f"The server said: {description}" if description else "",
                "Check the client ID, redirect URI and scopes, then start a new sign-in. The "
                "notebook shows the same error.",
            ),
            error=AuthorizationFailed(error, description),
            final=True,
        )

    code = one.get("code")
    if not code:
        why = "it carries the right state but no code"
        return _Verdict(
            400,
            "Callback without a code",
            (f"This request reached the callback address, but {why}.", "Still waiting."),
            error=InvalidCallbackAddress(why),
        )
    return _Verdict(
        200,
        "Signed in",
        ("Signed in — you can close this tab and return to the notebook.",),
        result=CallbackResult(code=code, state=state),
        final=True,
    )


_QUOTES = " \t\r\n\"'`<>"


def parse_callback_url(address: str, redirect_uri: str, expected_state: str) -> CallbackResult:
    """Check an address pasted from the browser, exactly as the listener checks a callback.

    For remote Jupyter (JupyterHub, Binder, SSH, Docker, WSL): the browser cannot reach the
    kernel's 127.0.0.1 and ends on an error page whose address bar still holds the callback.

    Only the path is compared with the redirect URI, not the scheme, host or port: loopback
    redirects may legitimately arrive on another port (RFC 8252 §7.3) or through a forwarded
    one, and the state check, not the address, is what proves the callback belongs to this
    sign-in. Raises ``StateMismatch``, ``AuthorizationDenied``, ``AuthorizationFailed`` or
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
    if (parts.path or "/") != expected_path:
        raise InvalidCallbackAddress(
            f"its path is {_clip(parts.path or '/', 80)!r}, not the redirect URI's "
            f"{expected_path!r}"
        )
    if not parts.query:
        raise InvalidCallbackAddress("it has no ?code=...&state=... part")
    verdict = _judge(parts.query, expected_state)
    if verdict.error is not None:
        raise verdict.error
    assert verdict.result is not None
    return verdict.result


# --- the HTTP side ------------------------------------------------------------------------


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;"
    "line-height:1.5;color:#222}"
)


def _page(title: str, paragraphs: tuple[str, ...]) -> bytes:
    """A small HTML page. Every piece of text is escaped here, once."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    ).encode()


# Pages for requests the stdlib rejects before our code sees them. Never echo its message:
# for a malformed request line it quotes the whole line, code and all.
_STDLIB_ERRORS = {
    400: "The request could not be understood.",
    408: "The request took too long to arrive.",
    414: "The address is too long.",
    431: "The request headers are too large.",
    501: "This method is not supported.",
}


class _CallbackHandler(BaseHTTPRequestHandler):
    """Answers one connection. The decisions are the listener's; this class only speaks HTTP."""

    protocol_version = "HTTP/1.1"
    server_version = "oauth-tutorial-callback"
    sys_version = ""
    # Read timeout per connection (StreamRequestHandler applies it to the socket): an idle
    # preconnect or a half-sent request ends after this many seconds, in its own thread.
    timeout = READ_TIMEOUT

    server: _CallbackServer

    def do_GET(self) -> None:
        self.server.listener._answer(self)

    def _method_not_allowed(self) -> None:
        self.server.listener._emit("ignored", f"{_clip(self.command, 20)} request answered 405")
        self.send_page(
            405,
            "Method not allowed",
            ("This address only answers the browser's GET redirect.",),
            extra=("Allow: GET",),
        )

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
        body = b"" if self.command == "HEAD" else _page(title, paragraphs)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        head = (
            f"HTTP/1.1 {status} {phrase}",
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
        text = _STDLIB_ERRORS.get(code, "The request could not be handled.")
        self.server.listener._emit("ignored", f"malformed request answered {code}")
        try:
            self.send_page(code, f"{code} {HTTPStatus(code).phrase}", (text,))
        except (OSError, ValueError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        # The stdlib writes every request line to stderr, which lands in the notebook, code and
        # all. Events go to on_event instead, without the code.
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


class _CallbackServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck connection never keeps the kernel from exiting
    # Stop-then-restart on the same port works at once (no TIME_WAIT refusal). On Windows
    # SO_REUSEADDR would let two programs share a port, so there we ask for exclusive use.
    allow_reuse_address = os.name != "nt"
    request_queue_size = 128  # a burst of connections waits in the backlog, not in SYN retries
    timeout = 0.05  # handle_request() gives up quickly if a queued connection vanished

    listener: CallbackListener

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


class _CallbackServer6(_CallbackServer):
    address_family = socket.AF_INET6


# (host, port) -> the listener this process runs there, so a re-run cell replaces the old one.
_registry: dict[tuple[str, int], CallbackListener] = {}
_registry_lock = threading.RLock()


class CallbackListener:
    """A background HTTP server on the redirect URI that waits for one genuine callback.

    ``redirect_uri``: the registered redirect URI, ``http://127.0.0.1:<port>/<path>`` (or
    ``[::1]``, or ``localhost``, which binds 127.0.0.1). ``expected_state``: the state this
    sign-in's authorization request sent. ``on_event(kind, message)``: optional, called with
    kind listening, ignored, received, error, stopped or timeout; requests are reported from
    the server's threads, the rest from the thread calling ``start()``, ``stop()`` or
    ``wait()``. It must be quick, and its exceptions are ignored. Use as a context manager, or ``start()`` then ``wait()``.
    ``return_to``: where the browser's pages send the learner back to ("the terminal").
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

        self._lock = threading.Lock()
        self._server: _CallbackServer | None = None
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._stop_requested = threading.Event()
        self._finished = threading.Event()  # set on the final callback, and by stop()
        self._outcome: _Verdict | None = None
        self._stopped = False
        self._deadline: float | None = None  # monotonic; armed by start(), dropped by wait()
        self._start_timeout: float | None = None
        self._timed_out: float | None = None  # seconds, once the deadline or wait() ran out
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
        with _registry_lock:
            if self._server is not None:
                return self
            if self._stopped:
                raise RuntimeError(
                    "This listener has stopped; a listener serves one sign-in. Create a new "
                    "CallbackListener for a new sign-in."
                )
            key = (self.host, self.port)
            previous = _registry.get(key)
            if previous is not None:
                previous.stop()
            server_class = _CallbackServer6 if ":" in self.host else _CallbackServer
            try:
                server = server_class((self.host, self.port), _CallbackHandler)
            except OSError as exc:
                # WSAEACCES (10013): Windows' answer when the port is held exclusively.
                if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10013:
                    raise PortInUse(self.host, self.port) from exc
                raise CannotListen(self.host, self.port, exc.strerror or str(exc)) from exc
            server.listener = self
            if timeout is not None:
                self._start_timeout = timeout
                self._deadline = time.monotonic() + timeout
            wake = socket.socketpair()
            thread = threading.Thread(
                target=self._serve,
                args=(server, wake[0]),
                name=f"callback-listener-{self.port}",
                daemon=True,
            )
            self._server, self._wake, self._thread = server, wake, thread
            _registry[key] = self
            # The socket already accepts connections (they queue until the thread takes them),
            # so say so now: listener.status is meaningful as soon as start() returns.
            self._emit("listening", f"Listening on {self.redirect_uri} for the callback.")
            thread.start()
        return self

    def wait(self, timeout: float | None = 300.0) -> CallbackResult:
        """Block until the genuine callback arrives; stop the server whatever happens.

        Returns the ``CallbackResult``, or raises ``AuthorizationDenied``,
        ``AuthorizationFailed`` or ``CallbackTimeout`` (after ``timeout`` seconds; None waits
        forever). Interrupting the kernel also stops the server and frees the port. Once
        waiting, ``timeout`` alone counts: the deadline of ``start()`` no longer applies. On a
        listener that has finished, ``wait()`` answers at once with the same outcome (so a
        re-run cell shows it again), or ``ListenerStopped`` if it was stopped without one.
        """
        if self._server is None and not self._stopped:
            self.start(timeout=None)  # wait()'s own timeout is the deadline
        self._deadline = None  # someone waits now: the serve loop's deadline is wait()'s
        try:
            if not self._wait_finished(timeout):
                self._timed_out = timeout or 0.0
                self._emit("timeout", f"No valid callback arrived within {timeout:g} s.")
                raise CallbackTimeout(timeout or 0.0, self.redirect_uri)
            outcome = self._outcome
            if outcome is None:
                if self._timed_out is not None:
                    raise CallbackTimeout(self._timed_out, self.redirect_uri)
                raise ListenerStopped()
            if outcome.error is not None:
                raise outcome.error
            assert outcome.result is not None
            return outcome.result
        finally:
            self.stop()

    def _wait_finished(self, timeout: float | None) -> bool:
        # Wait in short slices: a blocked Event.wait() only notices a simulated interrupt
        # (_thread.interrupt_main(), what some kernels send instead of a real SIGINT) when it
        # returns, so one long wait would ignore the Interrupt button until the deadline.
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return self._finished.is_set()
            if self._finished.wait(0.1 if left is None else min(0.1, left)):
                return True

    def stop(self) -> None:
        """Stop serving and free the port at once. Safe to call more than once."""
        with _registry_lock:
            key = (self.host, self.port)
            if _registry.get(key) is self:
                del _registry[key]
            with self._lock:
                server, thread, wake = self._server, self._thread, self._wake
                self._server = None
                self._stopped = True
            if server is None:
                return
            self._stop_requested.set()
            self._finished.set()  # a wait() in another thread stops waiting too
            try:
                assert wake is not None
                wake[1].send(b"x")  # wakes the serve loop now rather than at its next poll
            except OSError:
                pass
            if thread is not None and thread is not threading.current_thread():
                thread.join(2.0)  # the serve thread closes the listening socket on its way out
        self._emit("stopped", f"Stopped listening on port {self.port}.")

    @property
    def is_running(self) -> bool:
        """True while the server accepts connections."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop_requested.is_set()

    @property
    def result(self) -> CallbackResult | None:
        """The genuine callback once it arrived (also after the listener stopped), else None."""
        outcome = self._outcome
        return None if outcome is None else outcome.result

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
        state = "running" if self.is_running else ("stopped" if self._stopped else "not started")
        return f"CallbackListener({self.redirect_uri!r}, {state})"

    # --- the server thread ------------------------------------------------------------------

    def _serve(self, server: _CallbackServer, wake: socket.socket) -> None:
        # serve_forever() looks at its stop flag only every poll_interval (0.5 s), so shutdown()
        # can take that long (PITFALLS #11). Here a wake-up socket ends the loop at once.
        selector = selectors.DefaultSelector()
        try:
            selector.register(server, selectors.EVENT_READ)
            selector.register(wake, selectors.EVENT_READ)
            while not self._stop_requested.is_set():
                deadline = self._deadline
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self._expire()
                    break
                for key, _ in selector.select(left):
                    if key.fileobj is server and not self._stop_requested.is_set():
                        server.handle_request()  # a connection is queued: accept it, thread it
        finally:
            selector.close()
            server.server_close()
            if self._wake is not None:
                for sock in self._wake:
                    sock.close()

    def _expire(self) -> None:
        """The deadline of ``start()`` passed with nobody waiting: stop, and say so."""
        with self._lock:
            if self._outcome is not None or self._stop_requested.is_set():
                return
            self._server = None  # the serve loop closes it on its way out
            self._stopped = True
            self._timed_out = self._start_timeout or 0.0
            self._stop_requested.set()
        # Leave the registry without waiting for its lock: a start() or stop() holding it may
        # be joining this very thread. A stale entry is harmless (stop() is idempotent).
        if _registry_lock.acquire(blocking=False):
            try:
                if _registry.get((self.host, self.port)) is self:
                    del _registry[(self.host, self.port)]
            finally:
                _registry_lock.release()
        self._emit(
            "timeout",
            f"No callback within {self._timed_out:g} s of starting: stopped listening and freed "
            f"port {self.port}. Run the cell that starts the listener again to sign in.",
        )
        self._finished.set()

    def _answer(self, handler: _CallbackHandler) -> None:
        """Answer a GET: the callback, or anything else a browser sends."""
        target = handler.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            target = urlsplit(target)._replace(scheme="", netloc="").geturl()
        path, _, query = target.partition("#")[0].partition("?")
        if path != self.path:
            self._emit("ignored", f"GET {_clip(path, 80)} answered 404 (not the callback path)")
            handler.send_page(
                404,
                "Not found",
                (
                    f"Nothing here at {_clip(path, 200)}.",
                    "This small server only receives the OAuth callback for the notebook.",
                ),
            )
            return

        with self._lock:
            done = self._outcome is not None
        if done:
            self._already_complete(handler)
            return

        verdict = _judge(query, self._expected_state)
        if not verdict.final:
            self._emit("ignored", f"callback refused ({verdict.status}): {verdict.reason}")
            handler.send_page(verdict.status, verdict.title, verdict.paragraphs)
            return

        with self._lock:  # the first final callback wins; a second one is told it is too late
            claimed = self._outcome is None
            if claimed:
                self._outcome = verdict
        if not claimed:
            self._already_complete(handler)
            return
        try:
            handler.send_page(verdict.status, verdict.title, verdict.paragraphs)
        finally:
            # Tell the waiter only after the page is written, so the browser gets it even when
            # wait() stops the server right away.
            if verdict.result is not None:
                self._emit("received", "Callback received with the right state; the code is ready.")
            else:
                self._emit("error", str(verdict.error))
            self._finished.set()

    def _already_complete(self, handler: _CallbackHandler) -> None:
        self._emit("ignored", "callback after the sign-in had already completed")
        handler.send_page(
            200,
            "Sign-in already complete",
            (
                "This sign-in is already complete, so this request was ignored.",
                "You can close this tab and return to the notebook.",
            ),
        )

    def _emit(self, kind: str, message: str) -> None:
        self._status = ListenerEvent(kind, message)
        if self._on_event is not None:
            # A broken widget must not break the sign-in.
            with contextlib.suppress(Exception):
                self._on_event(kind, message)
