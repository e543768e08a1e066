"""A misbehaving HTTP server on loopback, at the socket level, for the client-fault battery.

tests/token_server.py answers well-formed HTTP; this one also hangs, hangs up mid-answer,
resets, trickles and floods. ``FaultServer(mode)``; ``.url``; ``.close()``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

HUGE_BYTES = 8 * 1024 * 1024

MODES = (
    "hang",  # reads the request, never answers
    "html_500",  # an HTML error page, as a proxy or a crashed app would send
    "text_200",  # 200 with a body that is not JSON
    "rfc_error",  # 400 {"error": "invalid_grant", ...}
    "close_before_answer",  # reads the request, hangs up without a byte
    "reset",  # reads the request, answers with a TCP reset
    "close_mid_body",  # promises 4096 bytes of JSON, sends 40, hangs up
    "garbage_status",  # not HTTP at all
    "huge",  # 200 with 8 MB that is not JSON
    "huge_json",  # 200 with an 8 MB JSON object
    "trickle",  # the body one byte every 0.5 s (each read is quick, the whole is not)
)


def _answer(status: str, ctype: str, body: bytes, extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "Connection: close\r\n\r\n").encode() + body


def _read_request(conn: socket.socket) -> None:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


class FaultServer:
    def __init__(self, mode: str) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._closed = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            _read_request(conn)
            getattr(self, "_" + self.mode)(conn)
        except OSError:
            pass
        finally:
            if self.mode != "hang":
                conn.close()

    def _hang(self, conn):
        self._closed.wait(30)

    def _html_500(self, conn):
        conn.sendall(_answer("500 Internal Server Error", "text/html", b"<h1>Oops</h1>" * 20))

    def _text_200(self, conn):
        conn.sendall(_answer("200 OK", "text/plain", b"OK, token coming soon"))

    def _rfc_error(self, conn):
        body = b'{"error": "invalid_grant", "error_description": "The code was already used."}'
        conn.sendall(_answer("400 Bad Request", "application/json", body))

    def _close_before_answer(self, conn):
        pass

    def _reset(self, conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _close_mid_body(self, conn):
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
        conn.sendall(head.encode() + b'{"access_token": "abc", "token_type": "Be')

    def _garbage_status(self, conn):
        conn.sendall(b"\x00\xffSSH-2.0-OpenSSH_9.6\r\nnot http\r\n\r\n")

    def _huge(self, conn):
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {HUGE_BYTES}\r\n\r\n"
        )
        conn.sendall(head.encode())
        chunk = b"x" * 65536
        for _ in range(HUGE_BYTES // len(chunk)):
            conn.sendall(chunk)

    def _huge_json(self, conn):
        filler = HUGE_BYTES - 64
        body_start = b'{"error": "server_error", "error_description": "'
        head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
        head += f"Content-Length: {len(body_start) + filler + 2}\r\n\r\n"
        conn.sendall(head.encode() + body_start)
        chunk = b"y" * 65536
        sent = 0
        while sent < filler:
            piece = chunk[: min(len(chunk), filler - sent)]
            conn.sendall(piece)
            sent += len(piece)
        conn.sendall(b'"}')

    def _trickle(self, conn):
        body = b'{"x": 1}'
        conn.sendall(_answer("200 OK", "application/json", body)[: -len(body)])
        for i in range(len(body)):  # 8 bytes, 0.5 s apart: each read is quick, the whole is not
            if self._closed.wait(0.5):
                return
            conn.sendall(body[i : i + 1])

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(2)
