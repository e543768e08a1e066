"""The callback listener's HTTP side: the stdlib server, its handler, and the pages it writes.

The listener (``helpers.callback``) decides what each request amounts to; this module speaks
HTTP for it: one thread per connection, an answer written in one send, a connection closed
gently, nothing printed to the notebook.
"""

from __future__ import annotations

import os
import socket
import socketserver
import sys
import time
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .callback_check import FINAL, CallbackResult, Outcome
from .errors import (
    AuthorizationDenied,
    AuthorizationFailed,
    CallbackError,
    InvalidCallbackAddress,
    StateMismatch,
)
from .redact import printable

if TYPE_CHECKING:
    from .callback import CallbackListener

#: Seconds a connection may stay silent before the listener gives up on it. A browser opens
#: spare "preconnect" sockets and may never use them; they must not hold anything up.
READ_TIMEOUT = 5.0


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


def page_for(outcome: Outcome) -> tuple[int, str, tuple[str, ...]]:
    """The answer to a callback: HTTP status, title, and paragraphs (plain text)."""
    if isinstance(outcome, CallbackResult):
        return 200, "Signed in", ("Signed in — you can close this tab and return to the notebook.",)
    status, title = _ERROR_PAGES[type(outcome)]
    if isinstance(outcome, FINAL):
        return status, title, (str(outcome),)
    why = (_WHY_STATE,) if isinstance(outcome, StateMismatch) else ()
    return status, title, (str(outcome), *why, _STILL_WAITING)


#: The answer to a callback that comes after the sign-in has ended.
ALREADY_COMPLETE = (
    200,
    "Sign-in already complete",
    (
        "This sign-in is already complete, so this request was ignored.",
        "You can close this tab and return to the notebook.",
    ),
)


def not_found_page(path: str) -> tuple[int, str, tuple[str, ...]]:
    """The answer to a request for any other path than the redirect URI's."""
    return (
        404,
        "Not found",
        (
            f"Nothing here at {printable(path, 200)}.",
            "This small server only receives the OAuth callback for the notebook.",
        ),
    )


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


# --- HTTP ------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """Answers one connection, in a thread of its own. The listener decides; this speaks HTTP."""

    protocol_version = "HTTP/1.1"
    server_version = "oauth-tutorial-callback"
    sys_version = ""
    # The stdlib applies this to the socket: an idle preconnect or a half-sent request ends
    # after this many seconds, in its own thread.
    timeout = READ_TIMEOUT

    server: Server

    def do_GET(self) -> None:
        self.server.listener._answer(self)

    def path_and_query(self) -> tuple[str, str]:
        """The request target's path and query (also from an absolute-form target)."""
        target = self.path
        if "://" in target.split("?", 1)[0]:
            target = urlsplit(target)._replace(scheme="", netloc="").geturl()
        path, _, query = target.partition("#")[0].partition("?")
        return path, query

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


class Server(ThreadingHTTPServer):
    """The stdlib's threaded HTTP server, bound for a loopback listener."""

    daemon_threads = True  # a stuck connection never keeps the kernel from exiting
    # Stop-then-restart on the same port works at once (no TIME_WAIT refusal). On Windows
    # SO_REUSEADDR would let two programs share a port, so there we ask for exclusive use.
    allow_reuse_address = os.name != "nt"
    request_queue_size = 128  # a burst of connections waits in the backlog, not in SYN retries

    def __init__(self, address: tuple[str, int], listener: CallbackListener) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listener = listener
        super().__init__(address, Handler)

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
