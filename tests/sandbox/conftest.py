"""Fixtures for the sandbox's protocol suite: a real sandbox on loopback over a real SQLite file,
a stand-in callback listener, and small helpers that speak the protocol the way clients do."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers.sandbox import serve_in_thread

REDIRECT_PATH = "/login/oauth2/code/goto"


class _Listener(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - stdlib name
        body = b"<h1>Callback received</h1>"
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)

    def log_message(self, *args):
        pass


class _ListenerServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # fifty learners' browsers arrive at once


@pytest.fixture(scope="session")
def listener():
    """A callback listener standing in for the learner's (answers 200 to any GET)."""
    server = _ListenerServer(("127.0.0.1", 0), _Listener)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{REDIRECT_PATH}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(tmp_path):
    with serve_in_thread(tmp_path / "sandbox") as running:
        yield running


@pytest.fixture
def rotating_sandbox(tmp_path):
    with serve_in_thread(tmp_path / "rotating", refresh_mode="rotate") as running:
        yield running
