"""The security lab's attacker helpers, against a real listener and a real sandbox."""

from __future__ import annotations

import pytest

from helpers import lab
from helpers.authorization import code_challenge
from helpers.callback import CallbackListener
from helpers.config import validate
from testing.ports import free_port


def test_forged_callback_is_refused_with_403_and_the_listener_keeps_waiting():
    redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    with CallbackListener(redirect_uri, "the-real-state") as listener:
        answer = lab.forge_callback(redirect_uri, state="a-guessed-state")
        assert answer.status == 403
        assert "state" in answer.title.lower()
        assert not answer.redirected
        assert listener.is_running
        assert listener.status.kind == "ignored"
    assert "HTTP 403" in str(answer)


def test_guessed_verifier_is_well_formed_and_new():
    first, second = lab.guessed_code_verifier(), lab.guessed_code_verifier()
    assert first != second
    assert 43 <= len(first) <= 128
    assert len(code_challenge(first)) == 43


def test_title_reads_the_title_or_the_first_heading():
    assert lab._title("<html><title>A &amp; B</title></html>") == "A & B"
    assert lab._title("<h1 class='x'>Hello <b>you</b></h1>") == "Hello you"
    assert lab._title("plain") == ""


@pytest.fixture
def sandbox(tmp_path):
    from helpers.sandbox import serve_in_thread

    with serve_in_thread(tmp_path) as running:
        yield running


def test_probe_sees_an_unregistered_redirect_uri_refused_without_a_redirect(sandbox):
    from helpers.authorization import AuthorizationRequest

    info = sandbox.info
    cfg = validate(
        {
            "OAUTH_SERVICE_URL": info.url,
            "OAUTH_CLIENT_ID": info.client_id,
            "OAUTH_CLIENT_SECRET": info.client_secret,
            "OAUTH_REDIRECT_URI": "http://127.0.0.1:5000/login/oauth2/code/goto",
        }
    )
    evil = AuthorizationRequest.new(cfg, redirect_uri="https://attacker.example/callback")
    answer = lab.probe(evil.url)
    assert answer.status == 400
    assert not answer.redirected
    good = lab.probe(AuthorizationRequest.new(cfg).url)
    assert good.status == 200


def test_a_forged_callback_with_no_listener_is_a_named_error_saying_what_to_run():
    from helpers.errors import ServiceUnreachable

    redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    with CallbackListener(redirect_uri, "the-real-state"):
        pass  # started, then stopped: as after the notebook's wait cell
    with pytest.raises(lab.ListenerUnreachable) as caught:
        lab.forge_callback(redirect_uri, state="a-guessed-state")
    assert isinstance(caught.value, ServiceUnreachable)
    assert "run the cell that starts the listener" in str(caught.value)
    assert "a-guessed-state" not in str(caught.value)


def test_probe_of_a_closed_port_is_service_unreachable():
    from helpers.errors import ServiceUnreachable

    with pytest.raises(ServiceUnreachable):
        lab.probe(f"http://127.0.0.1:{free_port()}/oauth/authorize")
