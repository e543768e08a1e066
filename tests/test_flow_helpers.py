"""helpers.flow: the decisions the notebooks' views and `python -m helpers` share."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace

import pytest

from helpers import connect, flow
from helpers.authorization import AuthorizationRequest
from helpers.errors import CallbackTimeout, SandboxStopped
from helpers.tokens import Token, TokenStore


def a_token(config, **overrides) -> Token:
    values = dict(
        access_token="AT-saved-0123456789",
        refresh_token="RT-saved-9876543210",
        expires_at=time.time() + 3600,
        scopes=("messaging.v1.send",),
        issuer=config.service_url,
    )
    values.update(overrides)
    return Token(**values)


def test_a_saved_unexpired_token_is_used_as_is(config, tmp_path):
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(config))
    said = []
    token = flow.saved_or_new_token(config, store, new_token=lambda: 1 / 0, say=said.append)
    assert token.access_token == "AT-saved-0123456789"
    assert said == [f"Using the token saved in {store.path}."]


def test_an_expired_saved_token_is_refreshed_and_saved(config, token_server, tmp_path):
    token_server.answer_json({"access_token": "AT-new-0123456789", "expires_in": 3600})
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(config, expires_at=time.time() - 10))
    said = []
    token = flow.saved_or_new_token(config, store, new_token=lambda: 1 / 0, say=said.append)
    assert token.access_token == "AT-new-0123456789"
    assert token.refresh_token == "RT-saved-9876543210"  # none came back: the old one is kept
    assert store.load().access_token == "AT-new-0123456789"
    assert "refreshed" in said[0]


def test_no_saved_token_or_a_refused_refresh_means_a_new_sign_in(config, token_server, tmp_path):
    store = TokenStore(tmp_path / "t.json")
    said = []
    fresh = a_token(config, access_token="AT-fresh-0123456789")
    assert flow.saved_or_new_token(config, store, new_token=lambda: fresh, say=said.append) is fresh
    assert store.load().access_token == "AT-fresh-0123456789"

    store.save(a_token(config, expires_at=time.time() - 10))
    token_server.answer_json({"error": "invalid_grant"}, status=400)
    token = flow.saved_or_new_token(config, store, new_token=lambda: fresh, say=said.append)
    assert token is fresh
    assert "No usable saved token" in said[0] and "InvalidGrant" in said[-1]


# --- the sandbox stops while a sign-in waits ---------------------------------------------------


def test_the_wait_ends_with_sandbox_stopped_when_the_sandbox_stops_answering(
    sandbox_env, monkeypatch
):
    monkeypatch.setattr(flow, "HEALTH_EVERY", 0.2)
    cfg = connect.load(quiet=True)
    request = AuthorizationRequest.new(cfg)
    events = []
    threading.Timer(0.5, sandbox_env.stop).start()  # the sandbox goes away mid-sign-in
    started = time.monotonic()
    with pytest.raises(SandboxStopped) as caught:
        flow.wait_for_code(
            request,
            timeout=30,
            on_event=lambda kind, message: events.append((kind, message)),
            open_browser=False,
            sandbox=flow.sandbox_url(cfg),
        )
    assert time.monotonic() - started < 10  # not the 30 s countdown
    assert "stopped answering" in str(caught.value) and "sandbox.log" in str(caught.value)
    assert ("error", str(caught.value)) in events


def test_a_sandbox_that_answers_is_not_reported(sandbox_env, monkeypatch):
    monkeypatch.setattr(flow, "HEALTH_EVERY", 0.1)
    cfg = connect.load(quiet=True)
    with pytest.raises(CallbackTimeout):  # ten looks at /health, all answered
        flow.wait_for_code(
            AuthorizationRequest.new(cfg), timeout=1, open_browser=False, sandbox=cfg.service_url
        )


def test_goto_is_never_watched(config):
    assert flow.sandbox_url(replace(config, is_sandbox=False)) is None
    assert flow.sandbox_url(replace(config, is_sandbox=True)) == config.service_url


def test_a_busy_sandbox_is_not_taken_for_a_stopped_one():
    with socket.socket() as server:  # accepts connections, never answers: busy, not gone
        server.bind(("127.0.0.1", 0))
        server.listen()
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        assert flow.sandbox_answers(url, timeout=0.3) is True
    assert flow.sandbox_answers(url, timeout=0.3) is False  # closed: the connection is refused
