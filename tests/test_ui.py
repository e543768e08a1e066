"""The notebook views, in plain pytest: widgets built, clicked and updated from other threads."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from helpers import cell_clock, connect, ui
from helpers.authorization import AuthorizationRequest
from helpers.errors import AuthorizationDenied, SandboxStopped
from helpers.tokens import Token, TokenStore
from helpers.trace import Trace
from testing.ports import can_bind, free_port

pytest.importorskip("ipywidgets")


@pytest.fixture
def cfg(config):
    from dataclasses import replace

    return replace(config, redirect_uri=f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto")


def a_token(**overrides) -> Token:
    values = dict(
        access_token="AT-secret-value-0123456789",
        refresh_token="RT-secret-value-9876543210",
        expires_at=time.time() + 3600,
        scopes=("messaging.v1.send",),
        requested_scopes=("messaging.v1.send", "messaging.v1.read"),
        principal="learner@example.com",
        issuer="http://127.0.0.1:1",
    )
    values.update(overrides)
    return Token(**values)


def send_callback(redirect_uri: str, delay: float = 0.2, **params) -> threading.Thread:
    """What the browser does after Allow/Deny: a GET on the redirect URI, from another thread."""

    def go():
        time.sleep(delay)
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(redirect_uri + "?" + urlencode(params), timeout=5).read()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_sign_in_panel_link_needs_no_kernel_and_open_uses_the_browser(monkeypatch):
    opened = []
    monkeypatch.setattr(ui.browser, "open_url", lambda url, **kw: opened.append(url) or True)
    panel = ui.SignInPanel("http://127.0.0.1:9/oauth/authorize?x=<1>", widgets=True)
    # a plain link (the kernel is busy waiting while the learner clicks it), escaped
    assert (
        '<a href="http://127.0.0.1:9/oauth/authorize?x=&lt;1&gt;" target="_blank"'
        in panel._link.value
    )
    assert "role=" not in panel._link.value  # a link: Enter opens it, as users expect of links
    panel.open()
    assert opened == ["http://127.0.0.1:9/oauth/authorize?x=<1>"]


def test_panel_status_is_updated_from_another_thread_with_time_left():
    panel = ui.SignInPanel("http://127.0.0.1:9/a", widgets=True)
    panel.start_countdown(120, watch=False)
    assert "s left" in panel._status.value
    t = threading.Thread(target=panel.on_event, args=("received", "Callback received."))
    t.start()
    t.join()
    assert panel.kind == "received"
    assert "Callback received." in panel._status.value
    panel.on_event("stopped", "Stopped listening.")  # after an outcome, stop adds nothing
    assert panel.kind == "received"
    assert panel.seconds_left is None


def test_countdown_ticks(monkeypatch):
    panel = ui.SignInPanel("http://127.0.0.1:9/a", widgets=True)
    panel.start_countdown(50, watch=False)
    first = panel.seconds_left
    panel._deadline -= 10
    panel.tick()
    assert panel.seconds_left <= first - 10
    assert f"{panel.seconds_left} s left" in panel._status.value


def test_plain_text_panel_prints_lines(capsys):
    panel = ui.SignInPanel("http://127.0.0.1:9/a", widgets=False).show()
    panel.start_countdown(10, watch=False)
    panel.on_event("ignored", "callback refused (403)")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:9/a" in out
    assert "[ignored] callback refused (403)" in out
    assert panel.widget is None


def test_sign_in_runs_the_whole_flow_and_never_prints_secrets(
    cfg, token_server, capsys, monkeypatch
):
    token_server.answer_json(
        {
            "access_token": "AT-very-secret-abcdefghijkl",
            "refresh_token": "RT-very-secret-abcdefghijkl",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "messaging.v1.send",
            "principal": "learner@example.com",
        }
    )
    sent = []

    def stand_in_browser(url, **kw):
        # Signs in and clicks Allow at once: the server redirects back with a code and the state.
        state = parse_qs(urlsplit(url).query)["state"][0]
        sent.append(send_callback(cfg.redirect_uri, code="CODE-very-secret-123456", state=state))
        return True

    monkeypatch.setattr(ui.browser, "open_url", stand_in_browser)
    token = ui.sign_in(cfg, timeout=10)
    sent[0].join()
    assert token.principal == "learner@example.com"
    out = capsys.readouterr().out
    assert "Token received" in out
    for secret in ("AT-very-secret", "RT-very-secret", "CODE-very-secret", cfg.client_secret):
        assert secret not in out


def test_wait_for_callback_reports_a_denial(cfg):
    request = AuthorizationRequest.new(cfg)
    panel = ui.SignInPanel(request.url, widgets=True)
    send_callback(request.redirect_uri, error="access_denied", state=request.state)
    with pytest.raises(AuthorizationDenied):
        ui.wait_for_callback(cfg, request, timeout=10, open_browser=False, panel=panel)
    assert panel.kind == "error"
    assert "access_denied" in panel._status.value


def test_saved_or_new_token_uses_the_saved_token(cfg, tmp_path, capsys):
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(issuer=cfg.service_url))
    token = ui.saved_or_new_token(cfg, store=store)
    assert token.principal == "learner@example.com"
    assert "Using the token saved" in capsys.readouterr().out


def test_saved_or_new_token_refreshes_an_expired_one(cfg, token_server, tmp_path):
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(issuer=cfg.service_url, expires_at=time.time() - 5))
    token_server.answer_json({"access_token": "AT-new-value-0123456789", "expires_in": 3600})
    token = ui.saved_or_new_token(cfg, store=store)
    assert token.access_token == "AT-new-value-0123456789"
    assert token.refresh_token == "RT-secret-value-9876543210"  # kept: GoTo sends none back
    assert json.loads(store.path.read_text())["access_token"] == "AT-new-value-0123456789"


def test_scope_picker_checkboxes():
    picker = ui.ScopePicker(("messaging.v1.send",), widgets=True)
    assert picker.scopes == ("messaging.v1.send",)
    picker.checkboxes["messaging.v1.read"].value = True
    assert picker.scopes == ("messaging.v1.send", "messaging.v1.read")
    picker.select("messaging.v1.read")
    assert picker.scopes == ("messaging.v1.read",)
    plain = ui.ScopePicker(("messaging.v1.read",), widgets=False)
    assert plain.scopes == ("messaging.v1.read",)


def test_token_card_masks_and_counts_down(capsys):
    token = a_token()
    card = ui.TokenCard(token, widgets=True)
    html = card.widget.children[0].value + card._expiry.value
    assert "learner@example.com" in html
    assert "AT-secret" not in html and "RT-secret" not in html
    assert "Expires in 59 min" in card._expiry.value or "Expires in 60 min" in card._expiry.value
    assert "messaging.v1.read" in html  # asked for, not granted
    expired = ui.TokenCard(a_token(expires_at=time.time() - 3), widgets=False).show()
    out = capsys.readouterr().out
    assert "Expired" in out and "AT-secret" not in out
    expired.tick()


def test_paste_box_accepts_the_right_state_and_refuses_a_forgery(cfg):
    request = AuthorizationRequest.new(cfg)
    got = []
    box = ui.PasteBox(request, on_result=got.append, widgets=True)
    box.text.value = f"{request.redirect_uri}?code=abc&state=forged"
    box.button.click()
    assert "StateMismatch" in box._status.value and box.result is None
    box.text.value = f"{request.redirect_uri}?code=CODE-secret-abcdefgh&state={request.state}"
    box.button.click()
    assert box.result is not None and got == [box.result]
    assert box.text.value == ""
    assert "CODE-secret" not in box._status.value


def test_trace_view_shows_redacted_exchanges(cfg, token_server, capsys):
    from helpers import tokens

    token_server.answer_json({"access_token": "AT-traced-secret-0123456", "expires_in": 60})
    trace = Trace()
    request = AuthorizationRequest.new(cfg)
    tokens.exchange(cfg, request, "CODE-traced-secret-123", trace=trace)
    view = ui.TraceView(trace, widgets=True)
    assert view.titles() == [f"POST {cfg.token_url} → 200"]
    text = view.widget.children[0].value
    assert "Basic" in text
    for secret in ("AT-traced-secret", "CODE-traced-secret", cfg.client_secret):
        assert secret not in text
    ui.TraceView(trace, widgets=False).show()
    assert "AT-traced-secret" not in capsys.readouterr().out


def test_widgets_are_off_outside_a_kernel():
    assert ui.widgets_enabled() is False
    ui.use_widgets(True)
    try:
        assert ui.widgets_enabled() is True
    finally:
        ui.use_widgets(None)


# --- the paste fallback (remote Jupyter) --------------------------------------------------------


def callback_address(request, **params) -> str:
    return request.redirect_uri + "?" + urlencode({"state": request.state, **params})


def test_after_a_timeout_the_pasted_address_is_checked_and_returned(cfg, monkeypatch, capsys):
    request = AuthorizationRequest.new(cfg)
    answers = iter(
        [
            callback_address(request, code="CODE-pasted-123456", state="not-ours"),  # refused
            callback_address(request, code="CODE-pasted-123456"),
        ]
    )
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or next(answers))
    result = ui.wait_for_callback(cfg, request, timeout=0.3, open_browser=False)
    assert result.code == "CODE-pasted-123456"
    assert prompts == [ui.flow.PASTE_PROMPT] * 2
    out = capsys.readouterr().out
    assert "StateMismatch" in out and "CODE-pasted" not in out
    assert can_bind(urlsplit(request.redirect_uri).port)


def test_an_interrupt_also_offers_the_paste(cfg, monkeypatch, ctrl_c):
    import _thread

    request = AuthorizationRequest.new(cfg)
    monkeypatch.setattr("builtins.input", lambda prompt: callback_address(request, code="C-1234"))
    threading.Timer(0.3, _thread.interrupt_main).start()  # the learner presses ■
    started = time.monotonic()
    result = ui.wait_for_callback(cfg, request, timeout=30, open_browser=False)
    assert result.code == "C-1234" and time.monotonic() - started < 5


@pytest.mark.parametrize("problem", ["no stdin", "closed stdin", "gave up"])
def test_without_a_pasted_address_the_original_error_is_raised(cfg, monkeypatch, problem):
    from helpers.errors import CallbackTimeout

    def no_answer(prompt):
        if problem == "no stdin":
            raise NotImplementedError(
                "raw_input was called, but this frontend does not support input requests."
            )
        if problem == "closed stdin":
            raise EOFError
        return ""

    monkeypatch.setattr("builtins.input", no_answer)
    request = AuthorizationRequest.new(cfg)
    with pytest.raises(CallbackTimeout):
        ui.wait_for_callback(cfg, request, timeout=0.2, open_browser=False)


def test_paste_false_never_asks(cfg, monkeypatch):
    from helpers.errors import CallbackTimeout

    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))
    request = AuthorizationRequest.new(cfg)
    with pytest.raises(CallbackTimeout):
        ui.wait_for_callback(cfg, request, timeout=0.2, open_browser=False, paste=False)


def test_sign_in_completes_with_a_pasted_address(cfg, token_server, monkeypatch, capsys):
    token_server.answer_json(
        {"access_token": "AT-pasted-abcdefghijkl", "token_type": "Bearer", "expires_in": 3600}
    )
    urls = []
    monkeypatch.setattr(ui.browser, "open_url", lambda url, **kw: urls.append(url) or True)

    def paste(prompt):
        state = parse_qs(urlsplit(urls[0]).query)["state"][0]
        return f"{cfg.redirect_uri}?code=CODE-pasted-abcdef&state={state}"

    monkeypatch.setattr("builtins.input", paste)
    token = ui.sign_in(cfg, timeout=0.3)
    assert token.access_token == "AT-pasted-abcdefghijkl"
    assert "code=CODE-pasted-abcdef" in token_server.seen[0].body


# --- the sandbox stops while the panel waits (issue: "127.0.0.1 refused to connect") -----------


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_panel_of_a_hand_run_listener_says_when_the_sandbox_stops(sandbox_env, monkeypatch):
    monkeypatch.setattr(ui.flow, "HEALTH_EVERY", 0.2)
    request = AuthorizationRequest.new(connect.load(quiet=True))
    panel = ui.SignInPanel(request.url, widgets=True)
    panel.start_countdown(300)  # as notebooks 03 and 06 do before listener.wait()
    time.sleep(0.6)
    assert panel.kind == "waiting"  # it answers: nothing to say
    sandbox_env.stop()
    assert wait_until(lambda: panel.kind == "error")
    assert "stopped answering" in panel._status.value and "■" in panel._status.value
    assert "s left" not in panel._status.value  # no countdown to a timeout that means nothing


def test_wait_for_callback_watches_the_configured_sandbox(sandbox_env, monkeypatch):
    monkeypatch.setattr(ui.flow, "HEALTH_EVERY", 0.2)
    cfg = connect.load(quiet=True)
    request = AuthorizationRequest.new(cfg)
    panel = ui.SignInPanel(request.url, widgets=True)
    threading.Timer(0.5, sandbox_env.stop).start()
    with pytest.raises(SandboxStopped):
        ui.wait_for_callback(cfg, request, timeout=60, open_browser=False, panel=panel, paste=False)
    assert panel.kind == "error" and "stopped answering" in panel._status.value


# --- what to do next, and the Shift+Enter trap -------------------------------------------------


def test_the_panel_asks_for_the_button_the_lab_wants(cfg):
    request = AuthorizationRequest.new(cfg)
    panel = ui.SignInPanel(request.url, widgets=True)
    send_callback(request.redirect_uri, delay=0.5, error="access_denied", state=request.state)
    with pytest.raises(AuthorizationDenied):
        ui.wait_for_callback(
            cfg, request, timeout=10, open_browser=False, panel=panel, button="Deny"
        )
    assert ("waiting", "Waiting for you to sign in and click Deny.") in panel.history


def test_once_the_token_is_in_the_panel_says_what_to_do_next(
    cfg, token_server, monkeypatch, capsys
):
    token_server.answer_json({"access_token": "AT-next-step-0123456789", "expires_in": 60})

    def stand_in_browser(url, **kw):
        state = parse_qs(urlsplit(url).query)["state"][0]
        send_callback(cfg.redirect_uri, code="CODE-next-step-123456", state=state)

    monkeypatch.setattr(ui.browser, "open_url", stand_in_browser)
    ui.sign_in(cfg, timeout=10)  # outside a kernel: the panel prints its status lines
    out = capsys.readouterr().out
    assert f"[token] Token received for the user. {ui.NEXT_STEP}" in out
    assert "[received]" in out and ui.NEXT_STEP == "Next: click the next cell, then Shift+Enter."


@pytest.fixture
def notebook_cell():
    """A real IPython shell whose current request says which cell runs and when it was sent."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()

    def run(cell: str, sent_at: float) -> None:
        shell.parent_header = {
            "header": {"date": datetime.fromtimestamp(sent_at, timezone.utc).isoformat()},
            "metadata": {"cellId": cell},
        }

    yield run
    InteractiveShell.clear_instance()
    ui.repeat._last_sign_in = None
    cell_clock._least_lag = None


@pytest.fixture
def half_second_sign_ins(cfg, token_server, monkeypatch):
    """Each sign-in the panel opens is answered half a second later; returns the URLs opened."""
    for _ in range(5):
        token_server.answer_json({"access_token": "AT-once-only-0123456789", "expires_in": 60})
    opened = []

    def stand_in_browser(url, **kw):
        opened.append(url)
        state = parse_qs(urlsplit(url).query)["state"][0]
        send_callback(cfg.redirect_uri, delay=0.5, code="CODE-once-only-123456", state=state)

    monkeypatch.setattr(ui.browser, "open_url", stand_in_browser)
    return opened


def test_a_sign_in_cell_run_again_while_it_waited_starts_no_second_sign_in(
    cfg, half_second_sign_ins, notebook_cell
):
    from helpers.errors import RepeatedSignIn

    opened = half_second_sign_ins
    sent = time.time()
    notebook_cell("cell-a", sent)
    ui.sign_in(cfg, timeout=10)  # lasts about half a second
    notebook_cell("cell-a", sent + 0.2)  # Shift+Enter pressed while it waited
    with pytest.raises(RepeatedSignIn, match="No second sign-in was started"):
        ui.sign_in(cfg, timeout=10)
    with pytest.raises(RepeatedSignIn):  # wait_for_callback is guarded the same way
        ui.wait_for_callback(cfg, AuthorizationRequest.new(cfg), timeout=10)
    assert len(opened) == 1
    # Run All: the cell waited 3 s behind a slow cell above it (cell-a ran at once: the
    # clocks agree), then its sign-in took half a second; Shift+Enter 3.2 s after Run All came
    # while it waited all the same. And 40 s behind four sign-in cells above it, as in 06.
    for queued in (3, 40):
        ran_all = time.time() - queued
        notebook_cell(f"cell-c{queued}", ran_all)
        ui.sign_in(cfg, timeout=10)
        notebook_cell(f"cell-c{queued}", ran_all + queued + 0.2)
        with pytest.raises(RepeatedSignIn):
            ui.sign_in(cfg, timeout=10)
    notebook_cell("cell-b", sent + 0.3)  # Run All: another cell, sent at the same time
    ui.sign_in(cfg, timeout=10)
    notebook_cell("cell-b", sent + 60)  # the learner runs it again, deliberately, later
    ui.sign_in(cfg, timeout=10)
    assert len(opened) == 5


@pytest.mark.parametrize("ahead", [20.0, -20.0], ids=["kernel-clock-ahead", "kernel-clock-behind"])
def test_the_two_clocks_disagreeing_changes_nothing(
    cfg, half_second_sign_ins, notebook_cell, ahead
):
    """The browser's clock and the kernel's 20 s apart: a deliberate run 15 s after a sign-in
    starts a new one, a Shift+Enter while it waited does not."""
    from helpers.errors import RepeatedSignIn

    opened = half_second_sign_ins
    browser_now = time.time() - ahead  # the frontend's clock
    notebook_cell("setup", browser_now)  # the first cell, run at once
    cell_clock.watch()
    notebook_cell("cell-a", browser_now + 1)
    ui.sign_in(cfg, timeout=10)  # about half a second
    notebook_cell("cell-a", browser_now + 1.3)  # Shift+Enter while it waited
    with pytest.raises(RepeatedSignIn):
        ui.sign_in(cfg, timeout=10)
    notebook_cell("cell-a", browser_now + 16)  # on purpose, 15 s later
    ui.sign_in(cfg, timeout=10)
    assert len(opened) == 2
