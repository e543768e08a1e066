"""Stage 4: the token endpoint client, against a scripted endpoint over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import time
from urllib.parse import parse_qs, unquote_plus

import pytest

from helpers import errors, tokens
from helpers.authorization import AuthorizationRequest
from helpers.trace import Trace
from tests.conftest import SECRET

TOKEN = {
    "access_token": "AT-0123456789abcdef",
    "token_type": "Bearer",
    "refresh_token": "RT-fedcba9876543210",
    "expires_in": 3600,
    "scope": "messaging.v1.send",
    "principal": "learner@example.com",
}


def sent(server):
    seen = server.seen[-1]
    return seen, {k: v[0] for k, v in parse_qs(seen.body).items()}


def basic_credentials(seen) -> tuple[str, str]:
    scheme, _, value = seen.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


def test_exchange_sends_code_redirect_uri_and_verifier_with_form_encoded_basic_auth(
    config, token_server
):
    token_server.answer_json(TOKEN)
    request = AuthorizationRequest.new(config)
    tokens.exchange(config, request, "the-code")
    seen, body = sent(token_server)
    assert seen.path == "/oauth/token"
    assert body == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": config.redirect_uri,
        "code_verifier": request.code_verifier,
    }
    user, password = basic_credentials(seen)
    # RFC 6749 §2.3.1: form-encoded before base64, so '+' '/' '=' arrive as %2B %2F %3D
    assert password == "Qk%2B9x%2FZr2%3DtPw7Lm%2BeV4"
    assert unquote_plus(password) == SECRET and unquote_plus(user) == "tutorial-client"
    assert seen.headers["Accept"] == "application/json"


def test_exchange_returns_a_token_with_expiry_principal_and_scopes(config, token_server):
    token_server.answer_json(TOKEN)
    token = tokens.exchange(config, AuthorizationRequest.new(config), "the-code")
    assert token.access_token == TOKEN["access_token"]
    assert token.refresh_token == TOKEN["refresh_token"]
    assert token.principal == "learner@example.com"
    assert token.scopes == ("messaging.v1.send",)
    assert 3590 <= token.expires_in <= 3600
    assert not token.is_expired() and token.is_expired(leeway=4000)
    assert token.issuer == config.service_url
    assert token.authorization_header == {"Authorization": "Bearer AT-0123456789abcdef"}


def test_a_narrower_grant_is_reported_not_raised(config, token_server):
    token_server.answer_json({**TOKEN, "scope": "messaging.v1.send"})
    request = AuthorizationRequest.new(config, scopes=["messaging.v1.send", "messaging.v1.read"])
    token = tokens.exchange(config, request, "the-code")
    assert token.missing_scopes == ("messaging.v1.read",)


def test_token_secrets_never_appear_in_its_representations(config, token_server):
    token_server.answer_json(TOKEN)
    token = tokens.exchange(config, AuthorizationRequest.new(config), "the-code")
    for shown in (repr(token), str(token), token._repr_html_()):
        assert TOKEN["access_token"] not in shown and TOKEN["refresh_token"] not in shown


@pytest.mark.parametrize(("error", "cls"), sorted(errors.TOKEN_ERRORS.items()))
def test_each_rfc_6749_error_becomes_its_named_exception(config, token_server, error, cls):
    for _ in range(2):  # invalid_client is retried once with the raw secret (see below)
        token_server.answer_json(
            {"error": error, "error_description": "told by the server"}, status=400
        )
    with pytest.raises(cls) as caught:
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")
    assert caught.value.error == error and caught.value.status == 400
    assert "told by the server" in str(caught.value) and caught.value.advice in str(caught.value)


def test_an_unknown_error_code_is_still_a_token_error(config, token_server):
    token_server.answer_json({"error": "slow_down"}, status=400)
    with pytest.raises(errors.TokenError, match="slow_down"):
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")


def test_an_html_500_is_an_unexpected_response(config, token_server):
    token_server.answer(500, "<html><body>Internal Server Error</body></html>")
    with pytest.raises(errors.UnexpectedResponse, match="HTTP 500 with text/html"):
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")


def test_non_json_success_is_an_unexpected_response(config, token_server):
    token_server.answer(200, "access_token=abc", content_type="text/plain")
    with pytest.raises(errors.UnexpectedResponse):
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")


def test_json_without_an_access_token_is_an_unexpected_response(config, token_server):
    token_server.answer_json({"token_type": "Bearer"})
    with pytest.raises(errors.UnexpectedResponse, match="no access_token"):
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")


def test_a_refused_connection_is_service_unreachable(config):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = type(config)(f"http://127.0.0.1:{port}", "id", "secret", config.redirect_uri)
    with pytest.raises(errors.ServiceUnreachable, match=str(port)):
        tokens.exchange(closed, AuthorizationRequest.new(closed), "the-code")


def test_a_hanging_server_is_a_timeout_within_the_limit(config, token_server):
    token_server.answer_json(TOKEN, delay=3)
    start = time.monotonic()
    with pytest.raises(errors.ServiceTimeout):
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code", timeout=0.3)
    assert time.monotonic() - start < 2


def test_refresh_uses_basic_auth_and_keeps_the_old_refresh_token(config, token_server):
    old = tokens.Token(
        access_token="AT-old",
        refresh_token="RT-keep",
        scopes=("messaging.v1.send",),
        principal="learner@example.com",
        expires_at=time.time() - 10,
    )
    # GoTo's refresh answer: no refresh_token, and in its example no token_type either
    token_server.answer_json(
        {"access_token": "AT-new", "expires_in": 3600, "scope": "messaging.v1.send"}
    )
    new = tokens.refresh(config, old)
    seen, body = sent(token_server)
    assert body == {"grant_type": "refresh_token", "refresh_token": "RT-keep"}
    assert basic_credentials(seen)[0] == "tutorial-client"
    assert (new.access_token, new.refresh_token, new.token_type) == ("AT-new", "RT-keep", "Bearer")
    assert new.principal == "learner@example.com" and not new.is_expired()


def test_a_rotated_refresh_token_replaces_the_old_one(config, token_server):
    old = tokens.Token(access_token="AT-old", refresh_token="RT-old")
    token_server.answer_json({**TOKEN, "refresh_token": "RT-rotated"})
    assert tokens.refresh(config, old).refresh_token == "RT-rotated"


def test_refresh_without_a_refresh_token_says_sign_in_again(config):
    with pytest.raises(errors.TokenExpired):
        tokens.refresh(config, tokens.Token(access_token="AT"))


def test_ensure_fresh_refreshes_only_near_expiry(config, token_server):
    valid = tokens.Token(access_token="AT", refresh_token="RT", expires_at=time.time() + 600)
    assert tokens.ensure_fresh(config, valid) is valid
    token_server.answer_json(TOKEN)
    soon = tokens.Token(access_token="AT", refresh_token="RT", expires_at=time.time() + 30)
    assert tokens.ensure_fresh(config, soon).access_token == TOKEN["access_token"]


def test_revoke_posts_the_token_with_a_hint_and_basic_auth(config, token_server):
    token_server.answer(200, "", content_type="text/plain")
    tokens.revoke(config, tokens.Token(access_token="AT", refresh_token="RT-x"))
    seen, body = sent(token_server)
    assert seen.path == "/oauth/revoke"
    assert body == {"token": "RT-x", "token_type_hint": "refresh_token"}
    assert basic_credentials(seen)[0] == "tutorial-client"


def test_revoke_errors_are_named(config, token_server):
    token_server.answer_json({"error": "invalid_client"}, status=401)
    token_server.answer_json({"error": "invalid_client"}, status=401)
    with pytest.raises(errors.InvalidClient):
        tokens.revoke(
            config, tokens.Token(access_token="AT", refresh_token="RT"), which="access_token"
        )


def test_trace_records_the_exchange_with_every_secret_masked(config, token_server):
    token_server.answer_json(TOKEN)
    trace = Trace()
    request = AuthorizationRequest.new(config)
    tokens.exchange(config, request, "the-code-value-123", trace=trace)
    shown = str(trace) + trace._repr_html_()
    assert "POST " + config.token_url in shown and "HTTP 200" in shown
    assert "grant_type=authorization_code" in shown and "Basic" in shown
    for secret in (
        SECRET,
        "the-code-value-123",
        request.code_verifier,
        TOKEN["access_token"],
        TOKEN["refresh_token"],
        tokens.ClientSecretBasic("tutorial-client", SECRET).header_value(),
    ):
        assert secret not in shown


def test_token_store_round_trip_with_owner_only_permissions(tmp_path):
    store = tokens.TokenStore(tmp_path / "state" / ".tokens.json")
    token = tokens.Token(access_token="AT", refresh_token="RT", scopes=("a", "b"), expires_at=123.0)
    path = store.save(token)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.load() == token
    assert os.listdir(path.parent) == [".tokens.json"]  # no temporary file left behind
    store.save(tokens.Token(access_token="AT2"))
    assert store.load().access_token == "AT2"


def test_token_store_errors_are_named(tmp_path):
    store = tokens.TokenStore(tmp_path / ".tokens.json")
    with pytest.raises(errors.NoSavedToken, match="no token has been saved"):
        store.load()
    store.path.write_text("{not json")
    with pytest.raises(errors.NoSavedToken, match="not a saved token"):
        store.load()
    store.path.write_text(json.dumps({"token_type": "Bearer"}))
    with pytest.raises(errors.NoSavedToken):
        store.load()


def test_a_token_from_another_server_is_not_used(tmp_path, config):
    store = tokens.TokenStore(tmp_path / ".tokens.json")
    store.save(tokens.Token(access_token="AT", issuer="https://authentication.logmeininc.com"))
    with pytest.raises(errors.NoSavedToken, match="issued by"):
        store.load_for(config)


def test_token_file_location_can_be_set_by_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTH_TOKEN_FILE", str(tmp_path / "elsewhere.json"))
    assert tokens.TokenStore().path == tmp_path / "elsewhere.json"
    monkeypatch.delenv("OAUTH_TOKEN_FILE")
    assert tokens.TokenStore().path.name == ".tokens.json"


def test_trace_masks_tokens_even_when_the_server_mislabels_its_json(config, token_server):
    token_server.answer(200, json.dumps(TOKEN), content_type="text/plain")
    trace = Trace()
    tokens.exchange(config, AuthorizationRequest.new(config), "the-code", trace=trace)
    shown = str(trace)
    assert TOKEN["access_token"] not in shown and TOKEN["refresh_token"] not in shown
    assert "%E2%80%A6" not in shown  # masks read as "…abcd", not percent-encoded


def test_invalid_client_is_retried_once_with_the_raw_secret_as_gotos_example_sends_it(
    config, token_server
):
    token_server.answer_json({"error": "invalid_client"}, status=401)
    token_server.answer_json(TOKEN)
    token = tokens.exchange(config, AuthorizationRequest.new(config), "the-code")
    assert token.access_token == TOKEN["access_token"]
    first, second = token_server.seen
    assert basic_credentials(first)[1] == "Qk%2B9x%2FZr2%3DtPw7Lm%2BeV4"
    assert basic_credentials(second)[1] == SECRET


def test_a_secret_that_form_encoding_leaves_alone_is_not_retried(config, token_server):
    plain = type(config)(
        config.service_url, "tutorial-client", "PlainSecret123", config.redirect_uri
    )
    token_server.answer_json({"error": "invalid_client"}, status=401)
    with pytest.raises(errors.InvalidClient):
        tokens.refresh(plain, tokens.Token(access_token="AT", refresh_token="RT"))
    assert len(token_server.seen) == 1


def test_revoke_with_a_json_answer_that_is_not_an_object_is_unexpected(config, token_server):
    token_server.answer(400, '["not", "an", "object"]', content_type="application/json")
    with pytest.raises(errors.UnexpectedResponse):
        tokens.revoke(config, tokens.Token(access_token="AT", refresh_token="RT"))


def test_an_unexpected_answer_never_quotes_a_credential(config, token_server):
    token_server.answer(200, "access_token=AT-0123456789abcdefghij&token_type=bearer", "text/plain")
    with pytest.raises(errors.UnexpectedResponse) as caught:
        tokens.exchange(config, AuthorizationRequest.new(config), "the-code")
    assert "AT-0123456789abcdefghij" not in str(caught.value)


def test_no_proxy_is_used_to_reach_this_machine(config, token_server, monkeypatch):
    # A proxy that does not exist: used, it would make every call fail.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    token_server.answer_json(TOKEN)
    assert tokens.exchange(config, AuthorizationRequest.new(config), "the-code").access_token
    token_server.answer(200, "", content_type="text/plain")
    tokens.revoke(config, tokens.Token(access_token="AT", refresh_token="RT"))


# --- the advice fits the failure: the real sandbox's answers -----------------------------------


def _sandbox_code(cfg, **request_options):
    """A fresh code from the sandbox, signed in by the scripted browser."""
    from helpers.callback import CallbackListener
    from testing.scripted_browser import sign_in

    request = AuthorizationRequest.new(cfg, **request_options)
    with CallbackListener(cfg.redirect_uri, request.state) as listener:
        sign_in(request.url)
        return request, listener.wait(10).code


def _refused(call) -> str:
    with pytest.raises(errors.TokenError) as caught:
        call()
    return str(caught.value)


def test_a_wrong_pkce_verifier_is_explained_as_pkce_not_as_a_used_code(sandbox_env):
    from dataclasses import replace

    from helpers import connect

    cfg = connect.load(quiet=True)
    request, code = _sandbox_code(cfg)
    thief = replace(request, code_verifier="x" * 43)
    said = _refused(lambda: tokens.exchange(cfg, thief, code))
    assert "code verifier does not match the code challenge" in said and "RFC 7636" in said
    assert "redirect URI" not in said


def test_a_replayed_code_and_a_redirect_mismatch_each_get_their_own_advice(sandbox_env):
    from dataclasses import replace

    from helpers import connect

    cfg = connect.load(quiet=True)
    request, code = _sandbox_code(cfg)
    tokens.exchange(cfg, request, code)
    replayed = _refused(lambda: tokens.exchange(cfg, request, code))
    assert "already used" in replayed and "Start a new sign-in for a new code." in replayed
    assert "verifier" not in replayed and "redirect URI" not in replayed

    request, code = _sandbox_code(cfg)
    elsewhere = replace(request, redirect_uri=request.redirect_uri + "-elsewhere")
    mismatch = _refused(lambda: tokens.exchange(cfg, elsewhere, code))
    assert "exactly the redirect URI of the authorization request" in mismatch
    assert "verifier" not in mismatch and "already used" not in mismatch.split(". ", 1)[1]


def test_a_refresh_after_revocation_talks_about_refresh_tokens_not_codes(sandbox_env):
    from helpers import connect

    cfg = connect.load(quiet=True)
    request, code = _sandbox_code(cfg)
    token = tokens.exchange(cfg, request, code)
    tokens.revoke(cfg, token)
    with pytest.raises(errors.InvalidGrant) as caught:
        tokens.refresh(cfg, token)
    said = str(caught.value)
    assert caught.value.grant == "refresh_token"
    assert "refresh token" in said and "sign in again" in said
    assert "code" not in said.lower()


def test_the_401_advice_says_each_thing_once(sandbox_env):
    from helpers import api, connect

    cfg = connect.load(quiet=True)
    with pytest.raises(errors.InvalidToken) as caught:
        api.who_am_i(cfg, tokens.Token(access_token="not-a-real-token-at-all"))
    said = str(caught.value)
    assert caught.value.description  # the sandbox says what is wrong...
    assert said.lower().count("revoked") == 1  # ...so the advice does not say it again
    assert said.endswith("Refresh it (tokens.refresh), or sign in again.")
