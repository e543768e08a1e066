"""The token endpoint: client authentication, codes, PKCE, refresh, revocation, fault switches."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import time

import pytest
import requests
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from helpers.sandbox import faults
from testing.ports import free_port
from testing.scripted_browser import sign_in
from tests.sandbox.flows import (
    TIMEOUT,
    authorize_url,
    basic,
    exchange,
    get_code,
    pkce_pair,
    refresh,
    tokens_for,
    whoami,
)


def _post_token(sandbox, data, headers=None):
    return requests.post(
        f"{sandbox.url}/oauth/token", data=data, headers=headers or {}, timeout=TIMEOUT
    )


# --- a good exchange -----------------------------------------------------------------------


def test_token_response_has_gotos_fields_and_no_store(sandbox, listener):
    code = get_code(sandbox, listener, scope="messaging.v1.send messaging.v1.read")
    answer = exchange(sandbox, code, listener)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "messaging.v1.send messaging.v1.read"
    assert body["principal"] == sandbox.info.user_email
    assert body["access_token"] and body["refresh_token"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Type"].startswith("application/json")


def test_demo_secret_holds_characters_that_basic_encoding_must_survive(sandbox):
    secret = sandbox.info.client_secret
    assert "+" in secret and any(c in secret for c in "/=")
    assert "…" in repr(sandbox.info) and secret not in repr(sandbox.info)
    assert sandbox.info.user_password not in repr(sandbox.info)


@pytest.mark.parametrize("form_encode", [True, False], ids=["rfc6749-form-encoded", "raw"])
def test_basic_credentials_are_accepted_form_encoded_and_raw(sandbox, listener, form_encode):
    code = get_code(sandbox, listener)
    auth = basic(sandbox.info.client_id, sandbox.info.client_secret, form_encode=form_encode)
    assert exchange(sandbox, code, listener, auth=auth).status_code == 200


def test_no_code_exchange_without_a_redirect_uri_when_the_request_had_one(sandbox, listener):
    code = get_code(sandbox, listener)
    answer = exchange(sandbox, code, None)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_code_from_a_request_without_redirect_uri_exchanges_without_one(sandbox):
    # A client whose one registered URI has a free port, where nothing listens: the browser stops.
    uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    sandbox.add_client("no-listener", "s3cret", redirect_uris=[uri], scopes=["messaging.v1.send"])
    url = authorize_url(sandbox, None, client_id="no-listener")
    from testing.scripted_browser import NoListener

    with pytest.raises(NoListener) as stopped:
        sign_in(url)
    assert stopped.value.callback_url.startswith(uri + "?")
    code = stopped.value.callback_url.split("code=")[1].split("&")[0]
    assert exchange(sandbox, code, None, auth=basic("no-listener", "s3cret")).status_code == 200


# --- client authentication -----------------------------------------------------------------


def _assert_invalid_client(answer):
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_credentials_in_the_body_are_refused_saying_goto_expects_basic(sandbox, listener):
    code = get_code(sandbox, listener)
    answer = _post_token(
        sandbox,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": listener,
            "client_id": sandbox.info.client_id,
            "client_secret": sandbox.info.client_secret,
        },
    )
    _assert_invalid_client(answer)
    assert "HTTP Basic" in answer.json()["error_description"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic not-base64!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "wrong-secret",
        "unknown-client",
    ],
)
def test_bad_client_authentication_is_401_invalid_client_with_a_basic_challenge(
    sandbox, listener, header
):
    code = get_code(sandbox, listener)
    if header == "wrong-secret":
        header = basic(sandbox.info.client_id, sandbox.info.client_secret + "x")
    elif header == "unknown-client":
        header = basic("someone-else", sandbox.info.client_secret)
    headers = {"Authorization": header} if header else {}
    answer = _post_token(
        sandbox,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": listener},
        headers,
    )
    _assert_invalid_client(answer)
    # The code was not spent by a failed attempt.
    assert exchange(sandbox, code, listener).status_code == 200


def test_a_body_client_id_that_differs_from_basic_is_invalid_client(sandbox, listener):
    code = get_code(sandbox, listener)
    answer = exchange(sandbox, code, listener, client_id="someone-else")
    _assert_invalid_client(answer)


def test_requests_plain_httpbasicauth_with_the_raw_secret_also_works(sandbox, listener):
    code = get_code(sandbox, listener)
    answer = requests.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": listener},
        auth=HTTPBasicAuth(sandbox.info.client_id, sandbox.info.client_secret),
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200


# --- request shape -------------------------------------------------------------------------


def test_unknown_grant_type_is_unsupported_grant_type(sandbox):
    auth = basic(sandbox.info.client_id, sandbox.info.client_secret)
    answer = _post_token(sandbox, {"grant_type": "password"}, {"Authorization": auth})
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_missing_code_is_invalid_request(sandbox):
    auth = basic(sandbox.info.client_id, sandbox.info.client_secret)
    answer = _post_token(sandbox, {"grant_type": "authorization_code"}, {"Authorization": auth})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_json_body_is_invalid_request(sandbox):
    answer = requests.post(
        f"{sandbox.url}/oauth/token",
        json={"grant_type": "authorization_code", "code": "x"},
        headers={"Authorization": basic(sandbox.info.client_id, sandbox.info.client_secret)},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_get_on_the_token_endpoint_is_405(sandbox):
    answer = requests.get(f"{sandbox.url}/oauth/token", timeout=TIMEOUT)
    assert answer.status_code == 405


# --- codes ---------------------------------------------------------------------------------


def test_a_reused_code_is_invalid_grant_and_revokes_what_it_issued(sandbox, listener):
    code = get_code(sandbox, listener)
    first = exchange(sandbox, code, listener).json()
    assert whoami(sandbox, first["access_token"]).status_code == 200
    again = exchange(sandbox, code, listener)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert "already used" in again.json()["error_description"]
    assert whoami(sandbox, first["access_token"]).status_code == 401
    assert refresh(sandbox, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_two_concurrent_exchanges_of_one_code_exactly_one_succeeds(sandbox, listener):
    for _ in range(3):
        code = get_code(sandbox, listener)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda c: exchange(sandbox, c, listener), [code] * 8))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [400] * 7
        assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)


def test_an_expired_code_is_invalid_grant(sandbox, listener):
    sandbox.switches.set_token_lifetimes(code=1)
    code = get_code(sandbox, listener)
    time.sleep(1.1)
    answer = exchange(sandbox, code, listener)
    assert answer.json()["error"] == "invalid_grant"
    assert "expired" in answer.json()["error_description"]


def test_a_code_is_bound_to_its_client(sandbox, listener):
    sandbox.add_client(
        "other-client", "other+secret=", redirect_uris=[listener], scopes=["messaging.v1.send"]
    )
    code = get_code(sandbox, listener)
    answer = exchange(sandbox, code, listener, auth=basic("other-client", "other+secret="))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_an_unknown_code_is_invalid_grant(sandbox, listener):
    assert exchange(sandbox, "made-up-code", listener).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "other",
    [
        "http://127.0.0.1:5001/login/oauth2/code/goto",  # another port: allowed at /authorize,
        "http://127.0.0.1:5000/login/oauth2/code/goto",  # but the code is bound to the exact URI
    ],
)
def test_a_different_redirect_uri_at_the_token_endpoint_is_invalid_grant(sandbox, listener, other):
    code = get_code(sandbox, listener)
    answer = exchange(sandbox, code, other)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"  # oauthlib alone says invalid_request
    assert exchange(sandbox, code, listener).status_code == 200


# --- PKCE ----------------------------------------------------------------------------------


def _pkce_code(sandbox, listener):
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, listener, code_challenge=challenge, code_challenge_method="S256")
    return code, verifier


def test_pkce_s256_with_the_right_verifier_succeeds(sandbox, listener):
    code, verifier = _pkce_code(sandbox, listener)
    assert exchange(sandbox, code, listener, code_verifier=verifier).status_code == 200


def test_rfc7636_appendix_b_example(sandbox, listener):
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    code = get_code(sandbox, listener, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(sandbox, code, listener, code_verifier=verifier).status_code == 200


def test_pkce_wrong_verifier_is_invalid_grant(sandbox, listener):
    code, verifier = _pkce_code(sandbox, listener)
    wrong = verifier[:-1] + ("A" if verifier[-1] != "A" else "B")
    answer = exchange(sandbox, code, listener, code_verifier=wrong)
    assert answer.json()["error"] == "invalid_grant"


def test_pkce_missing_verifier_is_invalid_request(sandbox, listener):
    code, _ = _pkce_code(sandbox, listener)
    assert exchange(sandbox, code, listener).json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "verifier",
    ["a" * 42, "a" * 129, "a" * 42 + "!", "a" * 42 + " ", "é" * 43],
    ids=["too-short", "too-long", "bad-char", "space", "non-ascii"],
)
def test_pkce_verifier_must_be_43_to_128_unreserved_characters(sandbox, listener, verifier):
    code, _ = _pkce_code(sandbox, listener)
    answer = exchange(sandbox, code, listener, code_verifier=verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_pkce_verifier_of_128_characters_is_accepted(sandbox, listener):
    verifier = "a-b.c_d~" * 16
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    code = get_code(sandbox, listener, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(sandbox, code, listener, code_verifier=verifier).status_code == 200


def test_a_verifier_for_a_code_issued_without_challenge_is_refused(sandbox, listener):
    # RFC 9700 section 4.8.2: a PKCE downgrade attempt.
    code = get_code(sandbox, listener)
    verifier, _ = pkce_pair()
    answer = exchange(sandbox, code, listener, code_verifier=verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "downgrade" in answer.json()["error_description"]


def test_a_request_without_pkce_still_works(sandbox, listener):
    assert tokens_for(sandbox, listener)["access_token"]


# --- refresh -------------------------------------------------------------------------------


def test_goto_refresh_returns_no_new_refresh_token_and_the_old_one_keeps_working(sandbox, listener):
    first = tokens_for(sandbox, listener)
    renewed = refresh(sandbox, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert "refresh_token" not in body
    assert "token_type" not in body  # as in GoTo's own refresh example
    assert body["access_token"] != first["access_token"]
    assert body["principal"] == sandbox.info.user_email
    assert whoami(sandbox, body["access_token"]).status_code == 200
    assert whoami(sandbox, first["access_token"]).status_code == 200  # still unexpired
    assert refresh(sandbox, first["refresh_token"]).status_code == 200


def test_refresh_may_narrow_scope_but_not_widen_it(sandbox, listener):
    first = tokens_for(sandbox, listener, scope="messaging.v1.send messaging.v1.read")
    narrow = refresh(sandbox, first["refresh_token"], scope="messaging.v1.read")
    assert narrow.status_code == 200
    assert narrow.json()["scope"] == "messaging.v1.read"
    wide = refresh(sandbox, first["refresh_token"], scope="messaging.v1.read identity:scim.me")
    assert wide.status_code == 400
    assert wide.json()["error"] == "invalid_scope"
    # Narrowing once does not narrow the refresh token itself.
    back = refresh(sandbox, first["refresh_token"])
    assert back.json()["scope"] == "messaging.v1.send messaging.v1.read"


def test_refresh_needs_basic_client_authentication(sandbox, listener):
    first = tokens_for(sandbox, listener)
    answer = _post_token(
        sandbox,
        {
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": sandbox.info.client_id,
            "client_secret": sandbox.info.client_secret,
        },
    )
    _assert_invalid_client(answer)


def test_a_refresh_token_is_bound_to_its_client(sandbox, listener):
    sandbox.add_client("c2", "c2+secret", redirect_uris=[listener], scopes=["messaging.v1.send"])
    first = tokens_for(sandbox, listener)
    answer = refresh(sandbox, first["refresh_token"], auth=basic("c2", "c2+secret"))
    assert answer.json()["error"] == "invalid_grant"


def test_an_expired_refresh_token_is_invalid_grant(sandbox, listener):
    sandbox.switches.set_token_lifetimes(refresh_token=1)
    first = tokens_for(sandbox, listener)
    time.sleep(1.1)
    assert refresh(sandbox, first["refresh_token"]).json()["error"] == "invalid_grant"


def test_rotation_issues_a_new_refresh_token_and_invalidates_the_old(rotating_sandbox, listener):
    sandbox = rotating_sandbox
    first = tokens_for(sandbox, listener)
    second = refresh(sandbox, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    third = refresh(sandbox, second["refresh_token"])
    assert third.status_code == 200
    assert "refresh_token" in third.json()
    assert third.json()["token_type"] == "Bearer"  # rotate mode answers as RFC 6749 §5.1 asks


def test_rotation_reuse_of_an_old_refresh_token_revokes_the_family(rotating_sandbox, listener):
    sandbox = rotating_sandbox
    first = tokens_for(sandbox, listener)
    second = refresh(sandbox, first["refresh_token"]).json()
    replay = refresh(sandbox, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # RFC 9700 section 4.14.2: the legitimate client's newer tokens die too.
    assert refresh(sandbox, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert whoami(sandbox, second["access_token"]).status_code == 401


def test_rotation_two_concurrent_refreshes_exactly_one_succeeds(rotating_sandbox, listener):
    sandbox = rotating_sandbox
    first = tokens_for(sandbox, listener)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: refresh(sandbox, first["refresh_token"]), range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 5


# --- revocation (RFC 7009; not documented by GoTo) -----------------------------------------


def _revoke(sandbox, token, auth=None, **extra):
    return requests.post(
        f"{sandbox.url}/oauth/revoke",
        data={"token": token, **extra},
        headers={
            "Authorization": auth or basic(sandbox.info.client_id, sandbox.info.client_secret)
        },
        timeout=TIMEOUT,
    )


def test_revoking_an_access_token_makes_the_api_refuse_it(sandbox, listener):
    first = tokens_for(sandbox, listener)
    assert _revoke(sandbox, first["access_token"], token_type_hint="access_token").ok
    assert whoami(sandbox, first["access_token"]).status_code == 401
    assert refresh(sandbox, first["refresh_token"]).status_code == 200


def test_revoking_a_refresh_token_ends_the_sign_in(sandbox, listener):
    first = tokens_for(sandbox, listener)
    assert _revoke(sandbox, first["refresh_token"]).status_code == 200
    assert refresh(sandbox, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert whoami(sandbox, first["access_token"]).status_code == 401


def test_revoking_an_unknown_token_is_still_200(sandbox):
    assert _revoke(sandbox, "never-issued").status_code == 200


def test_revocation_needs_client_authentication(sandbox, listener):
    first = tokens_for(sandbox, listener)
    answer = _revoke(sandbox, first["access_token"], auth="Basic Zm9vOmJhcg==")
    _assert_invalid_client(answer)
    assert whoami(sandbox, first["access_token"]).status_code == 200


def test_a_client_cannot_revoke_another_clients_token(sandbox, listener):
    sandbox.add_client("c3", "c3+secret", redirect_uris=[listener], scopes=["messaging.v1.send"])
    first = tokens_for(sandbox, listener)
    assert _revoke(sandbox, first["access_token"], auth=basic("c3", "c3+secret")).ok
    assert whoami(sandbox, first["access_token"]).status_code == 200


# --- fault switches ------------------------------------------------------------------------


def test_fail_next_token_request_answers_503_once(sandbox, listener):
    code = get_code(sandbox, listener)
    sandbox.switches.fail_next_token_request()
    failed = exchange(sandbox, code, listener)
    assert failed.status_code == 503
    assert failed.json()["error"] == "temporarily_unavailable"
    assert exchange(sandbox, code, listener).status_code == 200


def test_expire_access_tokens_makes_the_api_answer_invalid_token(sandbox, listener):
    first = tokens_for(sandbox, listener)
    assert sandbox.switches.expire_access_tokens() >= 1
    answer = whoami(sandbox, first["access_token"])
    assert answer.status_code == 401 and "expired" in answer.json()["error_description"]
    assert whoami(sandbox, refresh(sandbox, first["refresh_token"]).json()["access_token"]).ok


def test_short_lifetimes_apply_to_new_tokens(sandbox, listener):
    sandbox.switches.set_token_lifetimes(access_token=1)
    first = tokens_for(sandbox, listener)
    assert first["expires_in"] == 1
    time.sleep(1.1)
    assert whoami(sandbox, first["access_token"]).status_code == 401
    sandbox.switches.reset()
    assert tokens_for(sandbox, listener)["expires_in"] == 3600


def test_fault_switches_over_http_with_the_small_client(sandbox, listener):
    switches = faults(sandbox.url)
    code = get_code(sandbox, listener)
    switches.fail_next_token_request()
    assert exchange(sandbox, code, listener).status_code == 503
    first = exchange(sandbox, code, listener).json()
    assert switches.expire_access_tokens() >= 1
    assert whoami(sandbox, first["access_token"]).status_code == 401
    assert switches.set_token_lifetimes(access_token=5)["access_token"] == 5
    assert refresh(sandbox, first["refresh_token"]).json()["expires_in"] == 5
    assert switches.reset()["access_token"] == 3600


def test_fault_endpoints_refuse_a_cross_site_form_post(sandbox, listener):
    answer = requests.post(
        f"{sandbox.url}/sandbox/expire-access-tokens",
        data={"x": "1"},
        headers={"X-Sandbox-Control": sandbox.info.control_token},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400


# --- a standard client, unchanged ------------------------------------------------------------


def test_requests_oauthlib_oauth2session_completes_a_flow(sandbox, listener, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on loopback only
    from urllib.parse import quote_plus

    session = OAuth2Session(
        sandbox.info.client_id,
        redirect_uri=listener,
        scope=["messaging.v1.send", "messaging.v1.read"],
        pkce="S256",
    )
    url, state = session.authorization_url(f"{sandbox.url}/oauth/authorize")
    callback = sign_in(url)
    auth = HTTPBasicAuth(quote_plus(sandbox.info.client_id), quote_plus(sandbox.info.client_secret))
    token = session.fetch_token(
        f"{sandbox.url}/oauth/token",
        authorization_response=callback.url,
        auth=auth,
        timeout=TIMEOUT,
    )
    assert token["principal"] == sandbox.info.user_email
    me = session.get(f"{sandbox.url}/identity/v1/Users/me", timeout=TIMEOUT)
    assert me.json()["userName"] == sandbox.info.user_email
    renewed = session.refresh_token(f"{sandbox.url}/oauth/token", auth=auth, timeout=TIMEOUT)
    # No refresh_token comes back (GoTo's way): OAuth2Session keeps the old one.
    assert renewed["refresh_token"] == token["refresh_token"]
    assert renewed["access_token"] != token["access_token"]


def test_a_scope_in_the_token_request_does_not_change_the_granted_scope(sandbox, listener):
    # simple-oauth2 (the Node.js tutorial's client) sends scope= with the code exchange.
    code = get_code(sandbox, listener, scope="messaging.v1.send")
    answer = exchange(sandbox, code, listener, scope="messaging.v1.send identity:scim.me")
    assert answer.status_code == 200
    assert answer.json()["scope"] == "messaging.v1.send"
