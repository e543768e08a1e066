"""What the sandbox logs about requests, and which server a request is for (security review
findings 7 and 10): ``-v`` logs every request on one line, with control characters from the
network escaped and secrets masked; an absolute-form request target names the server it is
for, and it wins over ``Host`` (RFC 9112 §3.2.2)."""

from __future__ import annotations

import logging

import pytest
import requests

from helpers.sandbox import serve_in_thread
from tests.sandbox.flows import authorize_url, tokens_for

from .conftest import PATH, raw_exchange

TIMEOUT = 10


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def box(tmp_path):
    lines = Lines()
    logger = logging.getLogger("helpers.sandbox")
    old = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)  # what `python -m helpers.sandbox -v` sets
    try:
        with serve_in_thread(tmp_path / "box") as sandbox:
            sandbox.lines = lines.lines
            sandbox.port = int(sandbox.url.rsplit(":", 1)[1])
            yield sandbox
    finally:
        logger.removeHandler(lines)
        logger.setLevel(old)


def test_verbose_logs_every_request_with_its_status(box, standin_listener):
    tokens = tokens_for(box, standin_listener)
    requests.get(box.url + "/nothing-here", timeout=TIMEOUT)
    text = "\n".join(box.lines)
    for expected in (
        "GET /oauth/authorize",
        "POST /oauth/login",
        "POST /oauth/consent",
        "POST /oauth/token",
        "GET /nothing-here",
    ):
        assert expected in text, f"no {expected!r} in the log:\n{text[-2000:]}"
    assert " 404" in text and " 200" in text
    for secret in (tokens["access_token"], tokens["refresh_token"], box.info.client_secret):
        assert secret not in text


def test_control_characters_from_a_request_never_reach_the_log_raw(box):
    port = box.port
    hostile = (
        b"GET /x\x1b[2K\r[received] code=fake\x1b[0m HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\n".encode()
        + b"User-Agent: \x1b]0;owned\x07\r\nConnection: close\r\n\r\n"
    )
    raw_exchange(port, hostile)
    raw_exchange(port, b"\x1b[31mGARBAGE\r\n\r\n")
    requests.get(box.url + "/oauth/authorize?client_id=%1b%5b31m&x=%0d%0a", timeout=TIMEOUT)
    text = "\n".join(box.lines)
    assert text, "nothing was logged"
    assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "\\x1b" in text
    assert all("\n" not in line for line in box.lines)


def test_the_state_in_a_logged_request_is_masked(box):
    state = "a-state-value-only-the-client-knows"
    requests.get(authorize_url(box, f"http://127.0.0.1:5000{PATH}", state=state), timeout=TIMEOUT)
    assert box.lines
    assert state not in "\n".join(box.lines)


def test_an_absolute_form_target_naming_another_host_is_misdirected(box):
    port = box.port
    answer = raw_exchange(
        port,
        f"GET http://evil.example:{port}/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]


def test_an_absolute_form_target_naming_the_sandbox_wins_over_host(box):
    port = box.port
    answer = raw_exchange(
        port,
        f"GET http://127.0.0.1:{port}/health HTTP/1.1\r\nHost: evil.example\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"service": "goto-oauth-sandbox"' in answer
