"""helpers.callback: the listener over real HTTP on loopback, and the paste fallback."""

from __future__ import annotations

import errno
import html
import http.client
import signal
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import callback_http
from helpers.callback import CallbackListener, CallbackResult, parse_callback_url
from helpers.errors import (
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
from testing.ports import can_bind, free_port

STATE = "s7aTe-Xq2_kP9"
CODE = "Spl0xAuThC0de-9f8e7d6c5b4a"
PATH = "/login/oauth2/code/goto"


class Events:
    """Collects on_event calls with the thread they came from."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, message: str) -> None:
        with self.lock:
            self.items.append((kind, message, threading.current_thread().name))

    @property
    def kinds(self) -> list[str]:
        with self.lock:
            return [k for k, _, _ in self.items]


@pytest.fixture
def uri() -> str:
    return f"http://127.0.0.1:{free_port()}{PATH}"


@pytest.fixture
def listener(uri):
    events = Events()
    lst = CallbackListener(uri, STATE, on_event=events).start()
    lst.events = events
    yield lst
    lst.stop()


def get(uri: str, query: str = "", path: str = PATH, **kw) -> requests.Response:
    base = uri.split(PATH)[0]
    return requests.get(f"{base}{path}{'?' + query if query else ''}", timeout=5, **kw)


def raw(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    """Send raw bytes, read the whole answer."""
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def port_of(uri: str) -> int:
    return int(uri.split(":")[2].split("/")[0])


# --- the genuine callback ---------------------------------------------------------------------


def test_genuine_callback_returns_the_code_and_a_friendly_page(listener, uri):
    r = get(uri, f"code={CODE}&state={STATE}")
    assert r.status_code == 200
    assert "Signed in — you can close this tab and return to the notebook" in r.text
    assert "<title>" in r.text
    assert r.headers["Connection"] == "close"
    assert int(r.headers["Content-Length"]) == len(r.content)
    result = listener.wait(timeout=5)
    assert isinstance(result, CallbackResult)
    assert (result.code, result.state) == (CODE, STATE)
    assert result.received_at.tzinfo is not None
    assert not listener.is_running
    assert listener.events.kinds[0] == "listening"
    assert "received" in listener.events.kinds and listener.events.kinds[-1] == "stopped"


def test_forged_state_is_rejected_and_listener_keeps_waiting(listener, uri):
    r = get(uri, "code=attacker-code&state=forged")
    assert r.status_code == 403
    assert "state" in r.text and "forgery" in r.text
    assert listener.is_running
    assert listener.status.kind == "ignored"
    assert get(uri, f"code={CODE}&state={STATE}").status_code == 200
    assert listener.wait(timeout=5).code == CODE


def test_missing_state_is_rejected_with_403(listener, uri):
    r = get(uri, f"code={CODE}")
    assert r.status_code == 403
    assert "state does not match" in r.text
    assert listener.is_running


def test_repeated_state_is_not_a_callback(listener, uri):
    r = get(uri, f"code={CODE}&state={STATE}&state=other")
    assert r.status_code == 400
    assert listener.is_running


def test_right_state_without_code_gets_400_and_listener_keeps_waiting(listener, uri):
    r = get(uri, f"state={STATE}")
    assert r.status_code == 400
    assert listener.is_running
    get(uri, f"code={CODE}&state={STATE}")
    assert listener.wait(timeout=5).code == CODE


def test_later_requests_are_told_the_sign_in_is_already_complete(listener, uri):
    get(uri, f"code={CODE}&state={STATE}")
    r = get(uri, f"code=second-code&state={STATE}")
    assert r.status_code == 200 and "already complete" in r.text
    assert listener.wait(timeout=5).code == CODE  # the first callback wins


def test_wait_returns_a_callback_that_came_before_it(uri):
    lst = CallbackListener(uri, STATE).start()
    get(uri, f"code={CODE}&state={STATE}")
    time.sleep(0.05)
    assert lst.wait(timeout=0).code == CODE


def test_wait_starts_a_listener_nobody_started(uri):
    lst = CallbackListener(uri, STATE)

    def callback_once_listening() -> None:
        deadline = time.monotonic() + 5
        while not lst.is_running and time.monotonic() < deadline:
            time.sleep(0.01)
        get(uri, f"code={CODE}&state={STATE}")

    threading.Thread(target=callback_once_listening, daemon=True).start()
    assert lst.wait(timeout=5).code == CODE


# --- errors -----------------------------------------------------------------------------


def test_denied_callback_raises_authorization_denied_with_escaped_description(listener, uri):
    evil = "<script>alert('x')</script> & \"quoted\""
    r = get(uri, "", params={"error": "access_denied", "error_description": evil, "state": STATE})
    assert r.status_code == 200
    assert "<script>" not in r.text
    assert "&lt;script&gt;alert(" in r.text
    with pytest.raises(AuthorizationDenied) as caught:
        listener.wait(timeout=5)
    assert caught.value.description == evil
    # The page says what the notebook says: the error's own message, escaped.
    assert f"<p>{html.escape(str(caught.value))}</p>" in r.text
    assert "error" in listener.events.kinds
    assert not listener.is_running


def test_denied_callback_with_wrong_state_is_a_forgery_and_ignored(listener, uri):
    r = get(uri, "error=access_denied&state=forged")
    assert r.status_code == 403
    assert listener.is_running
    with pytest.raises(CallbackTimeout):
        listener.wait(timeout=0.2)


def test_other_error_raises_authorization_failed(listener, uri):
    r = get(uri, f"error=invalid_scope&error_description=bad+scope&state={STATE}")
    assert r.status_code == 200 and "invalid_scope" in r.text
    with pytest.raises(AuthorizationFailed) as caught:
        listener.wait(timeout=5)
    assert caught.value.error == "invalid_scope"
    assert caught.value.description == "bad scope"


def test_timeout_raises_callback_timeout_and_frees_the_port(listener, uri):
    started = time.monotonic()
    with pytest.raises(CallbackTimeout) as caught:
        listener.wait(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 1.5
    assert uri in str(caught.value)
    assert listener.events.kinds[-2:] == ["timeout", "stopped"]
    assert can_bind(port_of(uri))


def test_a_listener_never_waited_on_stops_at_its_start_deadline_and_frees_the_port(uri):
    events = Events()
    lst = CallbackListener(uri, STATE, on_event=events).start(timeout=0.3)
    try:
        assert lst.is_running
        time.sleep(0.8)
        assert not lst.is_running
        assert "timeout" in events.kinds
        assert "Run the cell that starts the listener again" in lst.status.message
        assert can_bind(port_of(uri))
        started = time.monotonic()
        with pytest.raises(CallbackTimeout):
            lst.wait(timeout=30)  # a later wait says so at once, not after its own timeout
        assert time.monotonic() - started < 1.0
    finally:
        lst.stop()


def test_wait_takes_over_from_the_start_deadline(uri):
    lst = CallbackListener(uri, STATE).start(timeout=0.3)
    threading.Timer(0.8, lambda: get(uri, f"code={CODE}&state={STATE}")).start()
    result = lst.wait(timeout=5)  # waiting since before the start deadline: wait's 5 s count
    assert result.code == CODE


def test_waiting_again_on_a_finished_listener_gives_the_same_outcome_at_once(listener, uri):
    with pytest.raises(CallbackTimeout):
        listener.wait(timeout=0.2)
    started = time.monotonic()
    with pytest.raises(CallbackTimeout):  # not ListenerStopped: the re-run cell says why
        listener.wait(timeout=30)
    assert time.monotonic() - started < 1.0

    other = CallbackListener(f"http://127.0.0.1:{free_port()}{PATH}", STATE).start()
    get(other.redirect_uri, f"code={CODE}&state={STATE}")
    first = other.wait(timeout=5)
    assert other.result is first
    assert other.wait(timeout=30) is first


def test_port_in_use_by_a_foreign_socket_raises_port_in_use_naming_the_port():
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        lst = CallbackListener(f"http://127.0.0.1:{port}{PATH}", STATE)
        with pytest.raises(PortInUse) as caught:
            lst.start()
        assert str(port) in str(caught.value)
        assert caught.value.port == port


def test_port_5000_in_use_mentions_airplay():
    with socket.socket() as foreign:
        try:
            foreign.bind(("127.0.0.1", 5000))
        except OSError:
            pytest.skip("port 5000 is taken on this machine")
        foreign.listen()
        with pytest.raises(PortInUse, match="AirPlay"):
            CallbackListener(f"http://127.0.0.1:5000{PATH}", STATE).start()


def test_bad_redirect_uris_raise_value_error():
    for bad in (
        "http://0.0.0.0:5000/cb",
        "https://127.0.0.1:5000/cb",
        "http://example.com:5000/cb",
        "http://localhost/cb",
        "http://127.0.0.1/cb",
    ):
        with pytest.raises(ValueError):
            CallbackListener(bad, STATE)
    with pytest.raises(ValueError):
        CallbackListener(f"http://127.0.0.1:5000{PATH}", "")


# --- hostile and stray traffic -------------------------------------------------------------


def test_stray_paths_get_404_and_other_methods_get_405(listener, uri):
    for path in ("/favicon.ico", "/", "/login/oauth2/code", PATH + "/x", "/junk?code=1"):
        assert get(uri, path=path).status_code == 404, path
    base = uri.split(PATH)[0]
    r = requests.post(uri, data={"code": CODE, "state": STATE}, timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
    assert requests.head(uri, timeout=5).status_code == 405
    assert requests.put(base + "/x", data=b"y" * 200_000, timeout=5).status_code == 405
    assert b" 501 " in raw(port_of(uri), b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    assert listener.is_running
    get(uri, f"code={CODE}&state={STATE}")
    assert listener.wait(timeout=5).code == CODE


def test_oversized_query_gets_an_error_status_and_listener_survives(listener, uri):
    r = get(uri, f"state={STATE}&code=" + "A" * 70_000)
    assert r.status_code == 414
    r = get(uri, f"state={STATE}&" + "&".join(f"p{i}=1" for i in range(200)))
    assert r.status_code == 400
    many_headers = {f"X-H{i}": "v" for i in range(150)}
    assert get(uri, "", path="/", headers=many_headers).status_code == 431
    assert listener.is_running
    get(uri, f"code={CODE}&state={STATE}")
    assert listener.wait(timeout=5).code == CODE


def test_raw_garbage_bytes_get_400(listener, uri):
    port = port_of(uri)
    assert raw(port, b"\x00\xff\xfe garbage \x80\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(port, b"GET\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(port, b"GET / HTTP/9.9\r\n\r\n").split(b" ")[1] in (b"400", b"505")
    assert listener.is_running


@pytest.mark.parametrize(
    "line",
    [
        f"GET {PATH}?code={CODE}&state={STATE} HTTP/1.1 x",  # a bad version
        f"GET {PATH}?code={CODE}&state={STATE} extra HTTP/1.1",  # the stdlib quotes this line
    ],
)
def test_malformed_request_line_never_echoes_the_code(listener, uri, line):
    answer = raw(port_of(uri), f"{line}\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert CODE.encode() not in answer


def test_echoed_path_is_escaped_in_the_404_page(listener, uri):
    answer = raw(port_of(uri), b"GET /<script>alert(1)</script> HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert b"<script>" not in answer and b"&lt;script&gt;" in answer


def test_localhost_and_127_0_0_1_are_the_same_listening_address(uri):
    port = port_of(uri)
    old = CallbackListener(f"http://localhost:{port}{PATH}", "old-state").start()
    with CallbackListener(uri, STATE) as new:
        assert not old.is_running and new.is_running


def test_idle_preconnect_socket_does_not_block_the_callback(listener, uri):
    with socket.create_connection(("127.0.0.1", port_of(uri))):  # connects, sends nothing
        started = time.monotonic()
        assert get(uri, f"code={CODE}&state={STATE}").status_code == 200
        assert listener.wait(timeout=5).code == CODE
        assert time.monotonic() - started < 1.0


def test_half_sent_request_does_not_block_the_callback(listener, uri):
    with socket.create_connection(("127.0.0.1", port_of(uri))) as half:
        half.sendall(f"GET {PATH}?state={STATE}&co".encode())
        started = time.monotonic()
        assert get(uri, f"code={CODE}&state={STATE}").status_code == 200
        assert listener.wait(timeout=5).code == CODE
        assert time.monotonic() - started < 1.0


def test_idle_connection_is_closed_after_the_read_timeout(monkeypatch, listener, uri):
    assert callback_http.Handler.timeout == callback_http.READ_TIMEOUT  # what the stdlib applies
    monkeypatch.setattr(callback_http.Handler, "timeout", 0.3)
    with socket.create_connection(("127.0.0.1", port_of(uri)), timeout=5) as idle:
        started = time.monotonic()
        assert idle.recv(1024) == b""  # the server hung up on us
        assert time.monotonic() - started < 2.5


def test_burst_of_junk_requests_then_the_genuine_callback(listener, uri):
    junk = [
        ("/favicon.ico", ""),
        (PATH, "code=x&state=forged"),
        (PATH, ""),
        ("/", "a=b"),
        (PATH, f"state={STATE}"),
    ]

    def one(i: int) -> int:
        path, query = junk[i % len(junk)]
        return get(uri, query, path=path).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(200)))
    assert set(statuses) == {404, 403, 400}
    assert listener.is_running
    assert get(uri, f"code={CODE}&state={STATE}").status_code == 200
    assert listener.wait(timeout=5).code == CODE


# --- lifecycle -------------------------------------------------------------------------------


def test_stop_frees_the_port_promptly_and_restart_on_the_same_port_works(uri):
    lst = CallbackListener(uri, STATE).start()
    get(uri, "", path="/favicon.ico")  # a served connection, so TIME_WAIT is in play
    started = time.perf_counter()
    lst.stop()
    assert time.perf_counter() - started < 0.25
    assert not lst.is_running
    lst.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        get(uri, "", path="/")
    with CallbackListener(uri, STATE) as again:
        get(uri, f"code={CODE}&state={STATE}")
        assert again.wait(timeout=5).code == CODE
    with pytest.raises(RuntimeError):
        lst.start()  # a stopped listener is not reused


def test_new_listener_on_a_port_this_process_holds_replaces_the_old_one(uri):
    old = CallbackListener(uri, "old-state").start()
    outcome: list[BaseException] = []
    waiter = threading.Thread(target=lambda: outcome.append(_raises(old.wait, 10)))
    waiter.start()
    new = CallbackListener(uri, STATE).start()
    waiter.join(2)
    assert not waiter.is_alive()
    assert isinstance(outcome[0], ListenerStopped)
    assert not old.is_running and new.is_running
    get(uri, f"code={CODE}&state={STATE}")
    assert new.wait(timeout=5).code == CODE


def _raises(fn, *args) -> BaseException | None:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


def test_context_manager_starts_and_stops(uri):
    with CallbackListener(uri, STATE) as lst:
        assert lst.is_running
        assert get(uri, "", path="/").status_code == 404
    assert not lst.is_running
    assert can_bind(port_of(uri))


def test_interrupting_wait_frees_the_port(uri, ctrl_c):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    lst = CallbackListener(uri, STATE).start()
    # A real SIGINT, as the kernel's Interrupt button sends, arrives while wait() blocks.
    timer = threading.Timer(
        0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lst.wait(timeout=5)
    finally:
        timer.cancel()
    assert not lst.is_running
    assert can_bind(port_of(uri))


def test_on_event_runs_in_server_threads_and_its_exceptions_are_ignored(uri):
    seen = Events()

    def broken(kind: str, message: str) -> None:
        seen(kind, message)
        raise RuntimeError("widget bug")

    with CallbackListener(uri, STATE, on_event=broken) as lst:
        assert lst.status.kind == "listening"
        assert get(uri, "", path="/favicon.ico").status_code == 404
        assert get(uri, f"code={CODE}&state={STATE}").status_code == 200
        assert lst.wait(timeout=5).code == CODE
    kinds = seen.kinds
    assert kinds[0] == "listening" and "ignored" in kinds and "received" in kinds
    main = threading.current_thread().name
    threads = {kind: name for kind, _, name in seen.items}
    # requests are reported from the server's threads, so a widget updates while wait() blocks
    assert threads["ignored"] != main and threads["received"] != main
    assert lst.status.kind == "stopped"


def test_code_never_appears_in_pages_reprs_or_events(uri):
    events = Events()
    bodies = []
    with CallbackListener(uri, STATE, on_event=events) as lst:
        for query in (
            f"code={CODE}&state=forged",
            f"code={CODE}",
            f"code={CODE}&state={STATE}&state={STATE}",
            f"code={CODE}&state={STATE}",
            f"code={CODE}&state={STATE}",
        ):
            bodies.append(get(uri, query).text)
        bodies.append(get(uri, f"code={CODE}", path="/elsewhere").text)
        result = lst.wait(timeout=5)
    assert result.code == CODE
    shown = [*bodies, repr(result), str(result), repr(lst), str(lst.status)]
    shown += [message for _, message, _ in events.items]
    for text in shown:
        assert CODE not in text
    assert "…" in repr(result)


def test_binds_only_the_loopback_address(uri):
    with CallbackListener(uri, STATE) as lst:
        assert lst.address == ("127.0.0.1", port_of(uri))
    port = free_port()
    with CallbackListener(f"http://localhost:{port}{PATH}", STATE) as lst:
        assert lst.address == ("127.0.0.1", port)


def test_binds_ipv6_loopback_for_a_bracketed_redirect_uri():
    try:
        port = free_port("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    v6 = f"http://[::1]:{port}{PATH}"
    with CallbackListener(v6, STATE) as lst:
        assert lst.address == ("::1", port)
        r = requests.get(f"{v6}?code={CODE}&state={STATE}", timeout=5)
        assert r.status_code == 200
        assert lst.wait(timeout=5).code == CODE


def test_responses_are_written_in_one_send_without_delay(listener, uri):
    conn = http.client.HTTPConnection("127.0.0.1", port_of(uri), timeout=5)
    started = time.perf_counter()
    for _ in range(10):
        conn.request("GET", "/favicon.ico")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404 and resp.getheader("Connection") == "close"
        conn.close()
    assert time.perf_counter() - started < 0.3  # no 40 ms Nagle/delayed-ACK stall per request


def test_an_absolute_form_request_target_is_a_callback_too(listener, uri):
    # RFC 9112 §3.2.2: a client may send the whole URI as the target; the path is what counts.
    answer = raw(port_of(uri), f"GET {uri}?code={CODE}&state={STATE} HTTP/1.1\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert listener.wait(timeout=5).code == CODE


def test_a_fragment_in_the_request_target_is_not_part_of_the_state(listener, uri):
    target = f"{PATH}?code={CODE}&state={STATE}#fragment"
    answer = raw(port_of(uri), f"GET {target} HTTP/1.1\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert listener.wait(timeout=5).code == CODE


def test_more_than_fifty_parameters_are_not_a_callback_even_with_code_and_state(listener, uri):
    padding = "&".join(f"p{i}=1" for i in range(60))
    r = get(uri, f"code={CODE}&state={STATE}&{padding}")
    assert r.status_code == 400 and "too many parameters" in r.text
    assert listener.is_running


def test_the_callback_page_is_neither_cached_nor_sent_on_as_a_referrer(listener, uri):
    # Its address holds the code: no cache may keep it, no link on it may pass it on.
    r = get(uri, f"code={CODE}&state={STATE}")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_head_request_gets_headers_only(listener, uri):
    answer = raw(port_of(uri), f"HEAD {PATH} HTTP/1.1\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 ") and b"Content-Length: 0" in head
    assert body == b""


def test_nothing_reaches_stderr_not_even_for_aborted_or_idle_connections(
    listener, uri, capfd, monkeypatch
):
    monkeypatch.setattr(callback_http.Handler, "timeout", 0.2)
    idle = socket.create_connection(("127.0.0.1", port_of(uri)))  # times out: the stdlib logs that
    get(uri, "", path="/favicon.ico")
    for _ in range(20):  # a client that sends a request and resets the connection at once
        s = socket.create_connection(("127.0.0.1", port_of(uri)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(f"GET {PATH}?code={CODE}&state=forged HTTP/1.1\r\n\r\n".encode())
        s.close()
    get(uri, f"code={CODE}&state={STATE}")
    assert listener.wait(timeout=5).code == CODE
    time.sleep(0.5)  # the aborted and the idle connections' threads are done
    idle.close()
    assert capfd.readouterr().err == ""


def test_the_status_shows_no_control_character_from_a_request(listener, uri):
    raw(port_of(uri), b"GET /x\x1b[2K\x1b[1Gfake HTTP/1.1\r\n\r\n")
    assert listener.status.kind == "ignored"
    assert (
        listener.status.message == "GET /x\\x1b[2K\\x1b[1Gfake answered 404 (not the callback path)"
    )


def test_a_port_that_cannot_be_bound_for_another_reason_is_cannot_listen(uri, monkeypatch):
    def refuse(server):  # what binding gives where this user may not: EACCES
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(callback_http.Server, "server_bind", refuse)
    with pytest.raises(CannotListen, match="Permission denied"):
        CallbackListener(uri, STATE).start()


# --- the paste fallback -----------------------------------------------------------------------


def test_parse_callback_url_accepts_a_pasted_callback(uri):
    pasted = f'  "{uri}?code={CODE}&state={STATE}"\n'
    result = parse_callback_url(pasted, uri, STATE)
    assert (result.code, result.state) == (CODE, STATE)
    # Another port or host name is fine (RFC 8252 §7.3): the state proves it is ours.
    other = f"http://localhost:1{PATH}?state={STATE}&code={CODE}"
    assert parse_callback_url(other, uri, STATE).code == CODE


def test_parse_callback_url_accepts_the_address_a_browser_ends_on_through_a_hub(uri):
    # The class callback sent the browser on through jupyter-server-proxy to a listener that
    # no longer waits: the address bar holds the proxy's prefix before the callback path.
    pasted = f"https://hub.example.org/user/alice/proxy/41234{PATH}?code={CODE}&state={STATE}"
    assert parse_callback_url(pasted, uri, STATE).code == CODE
    single = f"https://jupyter.example.org/proxy/5000{PATH}?code={CODE}&state={STATE}"
    assert parse_callback_url(single, uri, STATE).code == CODE
    for wrong in (f"/user/alice/proxy/x{PATH}", f"/user/a/prox/1{PATH}", f"/user/a/proxy/1{PATH}x"):
        with pytest.raises(InvalidCallbackAddress, match="its path is"):
            parse_callback_url(f"https://hub{wrong}?code={CODE}&state={STATE}", uri, STATE)


def test_parse_callback_url_wrong_or_missing_state_raises_state_mismatch(uri):
    with pytest.raises(StateMismatch):
        parse_callback_url(f"{uri}?code={CODE}&state=forged", uri, STATE)
    with pytest.raises(StateMismatch):
        parse_callback_url(f"{uri}?code={CODE}", uri, STATE)
    with pytest.raises(StateMismatch):  # a forged denial is a forgery first
        parse_callback_url(f"{uri}?error=access_denied&state=forged", uri, STATE)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("  ", "it is empty"),
        (f"ftp://127.0.0.1:5000{PATH}?code={CODE}&state={STATE}", "starting with http://"),
        (f"javascript://127.0.0.1:5000{PATH}?code={CODE}&state={STATE}", "starting with http://"),
    ],
)
def test_parse_callback_url_says_what_is_wrong(address, why, uri):
    with pytest.raises(InvalidCallbackAddress, match=why):
        parse_callback_url(address, uri, STATE)


def test_parse_callback_url_errors_raise_denied_and_failed(uri):
    with pytest.raises(AuthorizationDenied) as caught:
        parse_callback_url(
            f"{uri}?error=access_denied&error_description=User+said+no&state={STATE}", uri, STATE
        )
    assert caught.value.description == "User said no"
    with pytest.raises(AuthorizationFailed) as failed:
        parse_callback_url(f"{uri}?error=server_error&state={STATE}", uri, STATE)
    assert failed.value.error == "server_error"


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "not a url at all",
        "code=abc&state=x",
        f"{PATH}?code=abc&state={STATE}",
        f"http://127.0.0.1:5000/wrong/path?code=abc&state={STATE}",
        "http://127.0.0.1:5000" + PATH,
        f"http://127.0.0.1:5000{PATH}?state={STATE}",
        f"http://127.0.0.1:5000{PATH}?code=&state={STATE}",
        "http://[::1:5000/x",
    ],
)
def test_parse_callback_url_rejects_garbage_and_wrong_paths(address, uri):
    with pytest.raises(InvalidCallbackAddress):
        parse_callback_url(address, uri, STATE)


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=200), state=st.text(min_size=1, max_size=20))
def test_parse_callback_url_only_returns_a_result_or_raises_a_named_error(query, state):
    redirect = f"http://127.0.0.1:5000{PATH}"
    try:
        result = parse_callback_url(f"{redirect}?{query}", redirect, state)
    except CallbackError:
        return
    assert result.code and result.state == state


def test_what_the_server_said_is_cut_to_300_characters_and_its_control_characters_escaped():
    redirect = f"http://127.0.0.1:5000{PATH}"
    denied = f"{redirect}?state={STATE}&error=access_denied&error_description="
    for sent, kept in [
        ("x" * 300, "x" * 300),
        ("x" * 301, "x" * 300 + "…"),
        ("a%1B%5B2Jb%0D%0Ac%E2%80%AE", "a\\x1b[2Jb\\r\\nc\\u202e"),
    ]:
        with pytest.raises(AuthorizationDenied) as caught:
            parse_callback_url(denied + sent, redirect, STATE)
        assert caught.value.description == kept
    with pytest.raises(AuthorizationFailed) as failed:
        parse_callback_url(f"{redirect}?state={STATE}&error=" + "e" * 101, redirect, STATE)
    assert failed.value.error == "e" * 100 + "…"


def test_callback_result_repr_masks_the_code():
    result = CallbackResult(code=CODE, state=STATE)
    assert CODE not in repr(result) and CODE not in str(result)
    assert STATE in repr(result)
