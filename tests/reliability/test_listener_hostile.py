"""The callback listener under hostile input: junk, forgeries, floods, slow and half-open sockets.

Extends tests/test_callback.py (which pins each behaviour once) with generated input and bigger
counts. After every kind of abuse the genuine callback must still succeed, and no forged code
may ever be accepted. Everything is sent to loopback, except the loopback-only check, which
connects to this machine's own other addresses and expects to be refused.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import callback_http
from helpers.callback import CallbackListener
from helpers.errors import AuthorizationDenied, AuthorizationFailed
from testing.ports import can_bind, free_port
from testing.scripted_browser import sign_in

from .conftest import PATH, fd_count, raw_exchange, settle

GENUINE_CODE = "genuine-" + secrets.token_urlsafe(24)
# Answers a listener may give to junk. Never 200 (that is only for a genuine or final callback)
# and never 5xx other than 501/505 (the stdlib's "method/version not supported").
JUNK_STATUSES = {400, 403, 404, 405, 408, 414, 431, 501, 505}
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "p"}


class Recorder:
    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, message: str) -> None:
        with self.lock:
            self.kinds.append(kind)


def new_listener(port: int | None = None, state: str | None = None):
    state = state or secrets.token_urlsafe(32)
    uri = f"http://127.0.0.1:{port or free_port()}{PATH}"
    events = Recorder()
    lst = CallbackListener(uri, state, on_event=events).start()
    return lst, uri, state, events


def genuine(lst: CallbackListener, uri: str, state: str) -> None:
    """The genuine callback still works, quickly, and returns the genuine code."""
    started = time.monotonic()
    r = requests.get(uri, params={"code": GENUINE_CODE, "state": state}, timeout=5)
    assert r.status_code == 200, r.text[:200]
    result = lst.wait(timeout=5)
    assert result.code == GENUINE_CODE
    assert time.monotonic() - started < 2.0
    assert not lst.is_running


def status_of(answer: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(m.group(1)) if m else None


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += attrs


def tags_of(body: str) -> Tags:
    parser = Tags()
    parser.feed(body)
    return parser


# --- generated raw requests ------------------------------------------------------------------

_token = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1,
    max_size=20,
)
_line_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n"),
    max_size=80,
)
_method = (
    st.sampled_from(
        [
            "GET",
            "POST",
            "HEAD",
            "PUT",
            "DELETE",
            "OPTIONS",
            "CONNECT",
            "TRACE",
            "PATCH",
            "BREW",
            "get",
        ]
    )
    | _token
)
_target = st.one_of(
    st.builds(lambda q: f"{PATH}?{q}", _line_text),
    st.builds(lambda s, c: f"{PATH}?code={quote(c)}&state={quote(s)}", _line_text, _line_text),
    st.builds(lambda q: f"http://127.0.0.1{PATH}?{q}", _line_text),
    st.sampled_from(["/", "*", "", "/favicon.ico", PATH, PATH + "/..", "//" + PATH]),
    _line_text,
)
_version = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/0.9", "", "HTTP/1.1 x"]) | (
    _token
)
_header = st.tuples(_token, _line_text).map(lambda kv: f"{kv[0]}: {kv[1]}")
_structured = st.builds(
    lambda m, t, v, hs, body: (
        (f"{m} {t} {v}\r\n" + "".join(h + "\r\n" for h in hs) + "\r\n").encode("latin-1") + body
    ),
    _method,
    _target,
    _version,
    st.lists(_header, max_size=8),
    st.binary(max_size=200),
)
RAW_REQUESTS = st.one_of(st.binary(min_size=1, max_size=600), _structured)


def test_generated_raw_requests_never_end_the_wait_and_never_accept_a_code():
    lst, uri, state, events = new_listener()
    port = lst.port
    seen: list[int | None] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(RAW_REQUESTS)
    def one(data: bytes) -> None:
        answer = raw_exchange(port, data)
        status = status_of(answer)
        seen.append(status)
        # An answer, when there is one, is a well-formed error: never "Signed in".
        if answer:
            assert status in JUNK_STATUSES, answer[:200]
        assert b"Signed in" not in answer
        assert b"<script" not in answer.lower()
        assert lst.is_running

    try:
        one()
        assert "received" not in events.kinds and "error" not in events.kinds
        genuine(lst, uri, state)
    finally:
        lst.stop()
    assert len(seen) >= 100
    assert can_bind(port)


STATE = secrets.token_urlsafe(32)
# Near misses of the genuine state: a prefix, an extension, one character changed, other case,
# padding, a NUL; and unrelated text.
_near_misses = st.one_of(
    st.integers(0, len(STATE) - 1).map(lambda i: STATE[:i]),
    st.text(min_size=1, max_size=3).map(lambda extra: STATE + extra),
    st.tuples(st.integers(0, len(STATE) - 1), st.characters()).map(
        lambda ic: STATE[: ic[0]] + ic[1] + STATE[ic[0] + 1 :]
    ),
    st.sampled_from([STATE.upper(), STATE.lower(), f" {STATE}", f"{STATE}\x00", STATE[::-1]]),
    st.text(max_size=60),
).filter(lambda forged: forged != STATE)


@settings(max_examples=150, deadline=None)
@given(
    forged_state=_near_misses,
    code=st.text(min_size=1, max_size=60),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=4),
)
def test_generated_forged_callbacks_are_refused_with_403_or_400(forged_state, code, extra):
    lst, uri, state, events = new_listener(state=STATE)
    try:
        params = {**extra, "code": code, "state": forged_state}
        r = requests.get(uri + "?" + urlencode(params, quote_via=quote), timeout=5)
        assert r.status_code in (400, 403), r.status_code
        assert lst.is_running
        genuine(lst, uri, state)
    finally:
        lst.stop()


# --- error= callbacks with hostile descriptions --------------------------------------------

HOSTILE = [
    "<script>alert(document.cookie)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</p></body><body onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "&lt;already escaped&gt; & ' \"",
    "\u202eevil\u0000nul\ufeff",
]


@settings(max_examples=120, deadline=None)
@given(
    error=st.sampled_from(["access_denied", "server_error", "invalid_scope", "<b>x</b>"])
    | st.text(min_size=1, max_size=120),
    description=st.sampled_from(HOSTILE) | st.text(min_size=1, max_size=400),
)
def test_error_callbacks_with_hostile_descriptions_are_escaped_and_end_the_wait(error, description):
    lst, uri, state, events = new_listener()
    try:
        query = urlencode(
            {"state": state, "error": error, "error_description": description}, quote_via=quote
        )
        r = requests.get(f"{uri}?{query}", timeout=5)
        assert r.status_code == 200
        page = tags_of(r.text)
        assert page.tags <= PAGE_TAGS, page.tags  # nothing the server said became markup
        assert all(not name.startswith("on") for name, _ in page.attrs)
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        with pytest.raises((AuthorizationDenied, AuthorizationFailed)) as caught:
            lst.wait(timeout=5)
        # The page is the error's own message, escaped once.
        assert f"<p>{escape(str(caught.value))}</p>" in r.text
        # What the server said is kept, cut to 300 characters, control characters escaped.
        said = caught.value.description
        assert said.isprintable() and len(said) <= 301
        if description.isprintable() and len(description) <= 300:
            assert said == description
        if error == "access_denied":
            assert isinstance(caught.value, AuthorizationDenied)
    finally:
        lst.stop()


def test_a_forged_error_callback_never_ends_the_sign_in():
    lst, uri, state, events = new_listener()
    try:
        for hostile in HOSTILE:
            query = urlencode(
                {"state": "forged", "error": "access_denied", "error_description": hostile},
                quote_via=quote,
            )
            r = requests.get(f"{uri}?{query}", timeout=5)
            assert r.status_code == 403
            assert "<script" not in r.text and "onerror" not in r.text.replace("&", "")
        genuine(lst, uri, state)
    finally:
        lst.stop()


# --- what a terminal shows ------------------------------------------------------------------


def test_a_request_with_control_characters_cannot_paint_a_line_in_the_terminal(sandbox_env):
    """``python -m helpers`` prints an event for every stray request, quoting its path: escape
    sequences, CR and LF in it must not reach the terminal as such (no fake ``[received]``)."""
    port = int(os.environ["OAUTH_REDIRECT_URI"].split(":")[2].split("/")[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers", "--no-browser", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = ""
        while not url.startswith("http"):
            url = proc.stdout.readline().strip()
        fake = "[received]\x1b[CCallback\x1b[Creceived"
        for target in (
            f"/x\x1b[2K\x1b[1G{fake}",  # erase the line, back to column 1, paint
            f"/x\x1b[1A\x1b[2K{fake}",  # up one line
            f"/x\r{fake}",  # carriage return: the stdlib refuses the request line
            f"{PATH}?state=\x1b[2K{fake}&code=x",
        ):
            raw_exchange(port, f"GET {target} HTTP/1.1\r\n\r\n".encode("latin-1"))
        raw_exchange(port, f"GET /x\n{fake} HTTP/1.1\r\n\r\n".encode("latin-1"))  # LF
        sign_in(url)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert not any(c in out + err for c in "\x1b\r"), (out + err)[:2000]
    lines = [line.strip() for line in out.splitlines()]
    assert [line for line in lines if line.startswith("[received]")] == [
        "[received] Callback received with the right state; the code is ready."
    ]
    assert sum(line.startswith("[ignored] GET /x\\x1b[") for line in lines) == 2, lines


# --- oversized input ----------------------------------------------------------------------


def test_oversized_lines_headers_and_bodies_are_refused_and_the_listener_survives():
    lst, uri, state, events = new_listener()
    port = lst.port
    try:
        cases = {
            # a 1 MB request line, an over-long single header, 101 headers, a huge declared body
            "line": f"GET {PATH}?state={state}&code={'A' * 1_000_000} HTTP/1.1\r\n\r\n".encode(),
            "one header": b"GET / HTTP/1.1\r\nX-Big: " + b"h" * 70_000 + b"\r\n\r\n",
            "101 headers": b"GET / HTTP/1.1\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(101))
            + b"\r\n",
            "declared body": b"POST " + PATH.encode() + b" HTTP/1.1\r\nContent-Length: "
            b"999999999999\r\n\r\n",
            "5 MB body": b"GET / HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n" + b"b" * 5_000_000,
        }
        statuses = {}
        for name, data in cases.items():
            started = time.monotonic()
            statuses[name] = status_of(raw_exchange(port, data))
            assert time.monotonic() - started < 5, name
            assert lst.is_running
        assert statuses == {
            "line": 414,
            "one header": 431,
            "101 headers": 431,
            "declared body": 405,
            "5 MB body": 404,
        }
        genuine(lst, uri, state)
    finally:
        lst.stop()


# --- slow, idle and half-open connections -----------------------------------------------------


def test_many_idle_and_half_sent_connections_neither_block_nor_leak(monkeypatch, baseline):
    """64 idle preconnects and 64 half-sent requests at once; the callback still gets through,
    and every one of them is closed by the server after the read timeout."""
    monkeypatch.setattr(callback_http.Handler, "timeout", 0.5)
    threads_before, fds_before = baseline
    lst, uri, state, events = new_listener()
    port = lst.port
    sockets: list[socket.socket] = []
    try:
        for i in range(128):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(f"GET {PATH}?state={state}&code=half".encode())
            sockets.append(s)
        genuine(lst, uri, state)
        # Even after stop(), the server hangs up on each of them within the read timeout.
        for s in sockets:
            s.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(1024) == b""
    finally:
        for s in sockets:
            s.close()
        lst.stop()
    assert settle(lambda: threading.active_count() <= threads_before, timeout=5)
    assert settle(lambda: fd_count() <= fds_before, timeout=5)
    assert can_bind(port)


# --- floods ----------------------------------------------------------------------------------


def test_a_burst_of_600_mixed_junk_requests_from_32_clients_then_the_genuine_callback():
    lst, uri, state, events = new_listener()
    port = lst.port
    rng = random.Random(20240601)
    junk = [
        lambda i: f"GET {PATH}?code=forged-{i}&state=forged-{i} HTTP/1.1\r\n\r\n".encode(),
        lambda i: f"GET {PATH}?code=forged-{i} HTTP/1.1\r\n\r\n".encode(),
        lambda i: f"GET {PATH}?state={state}&state={state}&code=dup-{i} HTTP/1.1\r\n\r\n".encode(),
        lambda i: f"GET {PATH}?state={state} HTTP/1.1\r\n\r\n".encode(),
        lambda i: f"POST {PATH}?code=p-{i}&state={state} HTTP/1.1\r\n\r\n".encode(),
        lambda i: f"GET /favicon.ico?{i} HTTP/1.1\r\n\r\n".encode(),
        lambda i: bytes(rng.randrange(256) for _ in range(64)) + b"\r\n\r\n",
        lambda i: b"BREW /pot HTTP/1.1\r\n\r\n",
    ]
    requests_ = [junk[i % len(junk)](i) for i in range(600)]

    def one(data: bytes) -> int | None:
        return status_of(raw_exchange(port, data))

    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(one, requests_))
        seconds = time.monotonic() - started
        assert set(statuses) <= JUNK_STATUSES, set(statuses)
        assert statuses.count(403) >= 150 and statuses.count(405) >= 75
        assert seconds < 30
        assert lst.is_running and "received" not in events.kinds
        genuine(lst, uri, state)
    finally:
        lst.stop()
    print(f"\n600 junk requests from 32 clients in {seconds:.2f} s")


def test_forged_codes_racing_the_genuine_callback_never_win():
    """Forgeries keep arriving while the genuine callback lands: the genuine code is returned."""
    for _ in range(5):
        lst, uri, state, events = new_listener()
        stop = threading.Event()

        def forge(uri: str = uri, stop: threading.Event = stop) -> None:
            n = 0
            while not stop.is_set() and n < 200:
                n += 1
                try:
                    requests.get(uri, params={"code": f"forged-{n}", "state": "x" * 43}, timeout=2)
                except requests.RequestException:
                    return  # the listener has stopped

        forgers = [threading.Thread(target=forge) for _ in range(4)]
        for t in forgers:
            t.start()
        try:
            time.sleep(0.05)
            genuine(lst, uri, state)
        finally:
            stop.set()
            for t in forgers:
                t.join(10)
            lst.stop()


# --- loopback only ----------------------------------------------------------------------------


def own_addresses() -> list[tuple[str, str | None]]:
    """This machine's own non-loopback addresses (and their interface, for link-local IPv6)."""
    found: dict[str, str | None] = {}
    try:
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
            found.setdefault(sockaddr[0].split("%")[0], None)
    except OSError:
        pass
    if shutil.which("ip"):
        out = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, timeout=5)
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[2] in ("inet", "inet6"):
                found[parts[3].split("/")[0]] = parts[1]
    result = []
    for addr, ifname in found.items():
        ip = ipaddress.ip_address(addr)
        if ip.is_loopback or ip.is_unspecified:
            continue
        result.append((addr, ifname if ip.is_link_local else None))
    return result


def answers(addr: str, ifname: str | None, port: int) -> bool:
    host = f"{addr}%{ifname}" if ifname else addr
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        sockaddr = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            s.connect(sockaddr)
            return True
    except OSError:
        return False


def test_the_listener_answers_on_loopback_only():
    addresses = own_addresses()
    if not addresses:
        pytest.skip("this machine has no address but loopback")
    for redirect_host in ("127.0.0.1", "localhost", "[::1]"):
        host = redirect_host.strip("[]")
        try:
            port = free_port("::1" if host == "::1" else "127.0.0.1")
        except OSError:
            continue  # no IPv6 loopback here
        lst = CallbackListener(f"http://{redirect_host}:{port}{PATH}", "s" * 43).start()
        try:
            assert answers("::1" if host == "::1" else "127.0.0.1", None, port)
            reached = [a for a, i in addresses if answers(a, i, port)]
            assert not reached, f"the listener answered on {reached}"
        finally:
            lst.stop()
    print(f"\nchecked loopback-only against {len(addresses)} own addresses: {addresses}")
