"""The sandbox's HTTP transport: requests and responses as values, and the stdlib server.

``SandboxApp.handle`` (server.py) turns one ``Request`` into one ``Response`` without any socket
code; ``SandboxHTTPServer`` only moves bytes, writing each response in one send.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from ..redact import printable

if TYPE_CHECKING:
    from .server import SandboxApp

log = logging.getLogger("helpers.sandbox")

MAX_BODY = 1024 * 1024


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))


@dataclass
class Request:
    method: str
    target: str  # path and query, as received
    headers: dict[str, str]  # lower-cased names
    body: bytes
    peer: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def cookie(self, name: str) -> str | None:
        # Parsed by hand: http.cookies gives up on the whole header at the first cookie it
        # dislikes, and 127.0.0.1 also carries Jupyter's (and any local app's) cookies.
        for part in self.headers.get("cookie", "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip().strip('"') or None
        return None


class BadInput(Exception):
    """The request itself is at fault: answered 400, never 500."""


def json_response(status: int, data, extra: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(data).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    return Response(status, body, headers + list(extra or []))


def redirect(location: str, status: int = 302, extra=None) -> Response:
    return Response(
        status, b"", [("Location", location), ("Cache-Control", "no-store")] + list(extra or [])
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GoToOAuthSandbox/1"
    timeout = 30  # an idle keep-alive socket (a browser preconnect) gives up its thread

    def _dispatch(self) -> None:
        app: SandboxApp = self.server.app  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if "chunked" in headers.get("transfer-encoding", "").lower() or length < 0:
            self._send(
                json_response(
                    411, {"error": "invalid_request", "error_description": "Send a Content-Length."}
                ),
                close=True,
            )
            return
        if length > MAX_BODY:
            self._send(
                json_response(
                    413, {"error": "invalid_request", "error_description": "Body too large."}
                ),
                close=True,
            )
            return
        body = self.rfile.read(length) if length else b""
        target = self.path
        if target[:8].lower().startswith(("http://", "https://")):
            # RFC 9112 §3.2.2: an absolute-form target names the server; Host is ignored.
            parts = urlsplit(target)
            headers["host"] = parts.netloc
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        req = Request(self.command, target, headers, body, self.client_address[0])
        resp = app.handle(req)
        self._send(resp, head=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, resp: Response, *, head: bool = False, close: bool = False) -> None:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {resp.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        lines.append(f"Content-Length: {len(resp.body)}")
        lines.append(f"Date: {self.date_time_string()}")
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        # One write, so Nagle and delayed ACK cannot add ~40 ms to each keep-alive answer.
        self.wfile.write(data if head else data + resp.body)

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        # The stdlib's own lines (a malformed request) quote the request line as received.
        log.debug("%s - %s", self.address_string(), printable(format % args, 500))


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a classroom connecting at once must not overflow the backlog

    def __init__(self, address, app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)
