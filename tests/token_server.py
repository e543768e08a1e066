"""A small scripted token endpoint on loopback, for the client faults the sandbox won't produce.

Each test queues the answers it wants (status, headers, body), or gives a rule that answers each
request (``respond``), and reads back the requests that arrived, exactly as they crossed the
wire. Real HTTP, real sockets: only the server's answers are chosen by the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Answer:
    status: int = 200
    body: str | bytes = "{}"
    content_type: str = "application/json"
    delay: float = 0.0


@dataclass
class TokenServer:
    answers: list[Answer] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    #: Answers each request by a rule, instead of from ``answers``.
    respond: Callable[[Seen], Answer] | None = None

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                owner.seen.append(Seen("POST", self.path, dict(self.headers), body))
                if owner.respond is not None:
                    answer = owner.respond(owner.seen[-1])
                elif owner.answers:
                    answer = owner.answers.pop(0)
                else:
                    answer = Answer(500, "no answer queued")
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body if isinstance(answer.body, bytes) else answer.body.encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def answer_json(self, data: dict, status: int = 200, delay: float = 0.0) -> None:
        self.answers.append(Answer(status, json.dumps(data), "application/json", delay))

    def answer(
        self, status: int, body: str, content_type: str = "text/html", delay: float = 0.0
    ) -> None:
        self.answers.append(Answer(status, body, content_type, delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
