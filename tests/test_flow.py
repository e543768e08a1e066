"""The four stages end to end against the sandbox, as the notebooks run them, over real HTTP."""

from __future__ import annotations

import time

import pytest

from helpers import api, config, connect, errors, tokens
from helpers.authorization import AuthorizationRequest
from helpers.callback import CallbackListener
from testing.scripted_browser import sign_in


def code_for(cfg, **request_options) -> tuple[AuthorizationRequest, str]:
    """Stages 2 and 3: an authorization request, and the code the scripted browser brings back."""
    request = AuthorizationRequest.new(cfg, **request_options)
    with CallbackListener(cfg.redirect_uri, request.state) as listener:
        sign_in(request.url)
        return request, listener.wait(10).code


def signed_in(cfg, **request_options) -> tuple[AuthorizationRequest, tokens.Token]:
    request, code = code_for(cfg, **request_options)
    return request, tokens.exchange(cfg, request, code)


def test_config_load_finds_the_running_sandbox_and_says_so(sandbox_env, capsys):
    cfg = connect.load()
    assert cfg.is_sandbox and cfg.service_url == sandbox_env.url
    assert cfg.client_secret == sandbox_env.info.client_secret
    assert "Using the local sandbox" in capsys.readouterr().out


def test_sandbox_secret_holds_characters_that_need_form_encoding(sandbox_env):
    assert set("+/=") & set(connect.load(quiet=True).client_secret)


def test_full_sign_in_gives_a_token_the_api_accepts(sandbox_env):
    cfg = connect.load(quiet=True)
    _, token = signed_in(cfg)
    assert token.principal == sandbox_env.info.user_email
    assert token.scopes == ("messaging.v1.send",)
    assert 3500 < token.expires_in <= 3600
    sent = api.send_message(
        cfg,
        token,
        owner_phone_number="+15551230000",
        contact_phone_numbers=["+15557654321"],
        body="Hello from the tests",
    )
    assert sent["id"] and sent["body"] == "Hello from the tests"
    assert api.who_am_i(cfg, token)["userName"] == sandbox_env.info.user_email


def test_the_original_tutorial_request_without_pkce_works_too(sandbox_env):
    _, token = signed_in(connect.load(quiet=True), pkce=False)
    assert token.access_token


def test_a_code_is_single_use(sandbox_env):
    cfg = connect.load(quiet=True)
    request, code = code_for(cfg)
    first = tokens.exchange(cfg, request, code)
    with pytest.raises(errors.InvalidGrant):
        tokens.exchange(cfg, request, code)
    # RFC 6749 §4.1.2: the tokens issued from a replayed code are revoked
    with pytest.raises(errors.InvalidToken):
        api.who_am_i(cfg, first)


def test_a_wrong_secret_is_invalid_client(sandbox_env):
    cfg = connect.load(quiet=True)
    request, _ = signed_in(cfg)
    wrong = config.validate(
        {
            "OAUTH_SERVICE_URL": cfg.service_url,
            "OAUTH_CLIENT_ID": cfg.client_id,
            "OAUTH_CLIENT_SECRET": "not-the-secret",
            "OAUTH_REDIRECT_URI": cfg.redirect_uri,
        }
    )
    with pytest.raises(errors.InvalidClient):
        tokens.refresh(wrong, tokens.Token(access_token="x", refresh_token="y"))


def test_refresh_like_goto_keeps_the_refresh_token(sandbox_env):
    cfg = connect.load(quiet=True)
    _, token = signed_in(cfg)
    sandbox_env.switches.expire_access_tokens()
    with pytest.raises(errors.InvalidToken):
        api.who_am_i(cfg, token)
    fresh = tokens.ensure_fresh(cfg, tokens.Token(**{**token.to_dict(), "expires_at": time.time()}))
    assert fresh.access_token != token.access_token
    assert fresh.refresh_token == token.refresh_token  # GoTo sends no new one
    assert api.who_am_i(cfg, fresh)["userName"] == sandbox_env.info.user_email


def test_revoked_refresh_token_cannot_refresh(sandbox_env):
    cfg = connect.load(quiet=True)
    _, token = signed_in(cfg)
    tokens.revoke(cfg, token)
    with pytest.raises(errors.InvalidGrant):
        tokens.refresh(cfg, token)


def test_a_token_without_the_scope_is_refused_with_403(sandbox_env):
    cfg = connect.load(quiet=True)
    _, token = signed_in(cfg, scopes=["messaging.v1.read"])
    with pytest.raises(errors.InsufficientScope):
        api.send_message(
            cfg,
            token,
            owner_phone_number="+15551230000",
            contact_phone_numbers=["+15557654321"],
            body="hi",
        )


def test_a_garbage_token_is_refused_with_401(sandbox_env):
    cfg = connect.load(quiet=True)
    with pytest.raises(errors.InvalidToken):
        api.who_am_i(cfg, tokens.Token(access_token="garbage"))


def test_denied_consent_is_a_named_error(sandbox_env):
    cfg = connect.load(quiet=True)
    request = AuthorizationRequest.new(cfg)
    with CallbackListener(cfg.redirect_uri, request.state) as listener:
        sign_in(request.url, action="deny")
        with pytest.raises(errors.AuthorizationDenied):
            listener.wait(10)


def test_temporarily_unavailable_is_named(sandbox_env):
    cfg = connect.load(quiet=True)
    request, code = code_for(cfg)
    sandbox_env.switches.fail_next_token_request()
    with pytest.raises(errors.TemporarilyUnavailable):
        tokens.exchange(cfg, request, code)


def test_a_proxy_setting_does_not_hide_the_sandbox_or_break_the_flow(sandbox_env, monkeypatch):
    # A proxy that does not exist: if anything used it to reach 127.0.0.1, it would fail.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    cfg = connect.load(quiet=True)  # finds the running sandbox (urllib, in helpers.sandbox)
    _, token = signed_in(cfg)
    assert api.who_am_i(cfg, token)["userName"] == sandbox_env.info.user_email
    sandbox_faults = __import__("helpers.sandbox", fromlist=["faults"]).faults(cfg.service_url)
    assert sandbox_faults.expire_access_tokens() >= 1
