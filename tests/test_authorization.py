"""Stage 2: the authorization request (URL, state, PKCE pair)."""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from helpers.authorization import AuthorizationRequest, code_challenge
from helpers.config import OAuthConfig


def goto_config() -> OAuthConfig:
    return OAuthConfig(
        service_url="https://authentication.logmeininc.com",
        client_id="0f6c1b8e-8a55-4d7e-9a0b-4c1f2e3d4a5b",
        client_secret="s3cr+t/Value=xyz123",
        redirect_uri="http://127.0.0.1:5000/login/oauth2/code/goto",
    )


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_rfc_7636_appendix_b_verifier_gives_its_challenge():
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_url_carries_every_parameter_of_the_authorization_request(clean_env):
    request = AuthorizationRequest.new(goto_config())
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "authentication.logmeininc.com",
        "/oauth/authorize",
    )
    q = query(request.url)
    assert q["response_type"] == ["code"]
    assert q["client_id"] == ["0f6c1b8e-8a55-4d7e-9a0b-4c1f2e3d4a5b"]
    assert q["redirect_uri"] == ["http://127.0.0.1:5000/login/oauth2/code/goto"]
    assert q["scope"] == ["messaging.v1.send"]
    assert q["state"] == [request.state]
    assert q["code_challenge_method"] == ["S256"]
    assert q["code_challenge"] == [code_challenge(request.code_verifier)]
    assert request.parameters["state"] == request.state


def test_state_is_random_with_at_least_120_bits(clean_env):
    states = {AuthorizationRequest.new(goto_config()).state for _ in range(200)}
    assert len(states) == 200
    for state in states:
        # URL-safe base64: 6 bits a character
        assert re.fullmatch(r"[A-Za-z0-9_-]+", state) and len(state) * 6 >= 120


def test_pkce_verifier_follows_rfc_7636(clean_env):
    request = AuthorizationRequest.new(goto_config())
    assert re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", request.code_verifier)
    assert request.code_challenge == code_challenge(request.code_verifier)


def test_pkce_can_be_turned_off_for_the_original_tutorial_request(clean_env):
    request = AuthorizationRequest.new(goto_config(), pkce=False)
    assert request.code_verifier is None and request.code_challenge is None
    assert "code_challenge" not in query(request.url)


def test_requested_scopes_can_differ_from_the_config(clean_env):
    request = AuthorizationRequest.new(
        goto_config(), scopes=["messaging.v1.send", "messaging.v1.read"]
    )
    assert query(request.url)["scope"] == ["messaging.v1.send messaging.v1.read"]
    assert request.scopes == ("messaging.v1.send", "messaging.v1.read")


def test_plain_http_is_allowed_for_a_loopback_sandbox_without_leaving_the_switch_on(clean_env):
    sandbox = OAuthConfig("http://127.0.0.1:8765", "id", "secret", "http://127.0.0.1:5000/cb")
    request = AuthorizationRequest.new(sandbox)
    assert request.url.startswith("http://127.0.0.1:8765/oauth/authorize?")
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_plain_http_is_never_allowed_for_a_remote_server(clean_env):
    from oauthlib.oauth2.rfc6749.errors import InsecureTransportError

    remote = OAuthConfig("http://auth.example.com", "id", "secret", "http://127.0.0.1:5000/cb")
    with pytest.raises(InsecureTransportError):
        AuthorizationRequest.new(remote)


def test_repr_shows_state_but_not_the_code_verifier(clean_env):
    request = AuthorizationRequest.new(goto_config())
    assert request.state in repr(request)
    assert request.code_verifier not in repr(request)


def test_concurrent_loopback_requests_do_not_undo_each_others_plain_http_switch(clean_env):
    from concurrent.futures import ThreadPoolExecutor

    sandbox = OAuthConfig("http://127.0.0.1:8765", "id", "secret", "http://127.0.0.1:5000/cb")
    with ThreadPoolExecutor(8) as pool:
        urls = list(pool.map(lambda _: AuthorizationRequest.new(sandbox).url, range(400)))
    assert len(urls) == 400
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_a_switch_the_user_set_is_left_alone(clean_env, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    AuthorizationRequest.new(
        OAuthConfig("http://127.0.0.1:8765", "id", "s", "http://127.0.0.1:5000/cb")
    )
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
