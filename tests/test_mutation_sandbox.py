"""Guards of the sandbox's validator and store that no other test held in place.

Found by a mutation pass (each guard broken by hand, one at a time, the sandbox suites run):
these are the ones that survived it. Each test says which guard it holds and why it matters.
Everything goes through the sandbox's HTTP endpoints, as a client would.
"""

from __future__ import annotations

import base64

import pytest
import requests

from tests.sandbox.conftest import listener  # noqa: F401 - the stand-in callback listener
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

PATH = "/login/oauth2/code/goto"


def _refused_without_redirect(answer: requests.Response) -> None:
    assert answer.status_code == 400, answer.status_code
    assert "Location" not in answer.headers


def test_only_the_basic_scheme_carries_client_credentials(sandbox, listener):  # noqa: F811
    # validator.parse_basic: "Bearer <base64 id:secret>" is not client authentication.
    code = get_code(sandbox, listener)
    pair = f"{sandbox.info.client_id}:{sandbox.info.client_secret}".encode()
    for scheme in ("Bearer", "Digest", "basicx"):
        answer = exchange(
            sandbox, code, listener, auth=f"{scheme} {base64.b64encode(pair).decode()}"
        )
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", scheme
    assert exchange(sandbox, code, listener).status_code == 200  # the code was not used up


def test_a_localhost_redirect_uri_is_bound_to_its_port(sandbox, free_port_pair):
    # RFC 8252 §7.3 frees the port of loopback IP literals only; §8.3: 'localhost' is a name.
    registered, other = free_port_pair
    sandbox.add_client(
        "localhost-client",
        "s3cret",
        redirect_uris=[f"http://localhost:{registered}{PATH}"],
        scopes=["messaging.v1.send"],
    )
    url = authorize_url(sandbox, f"http://localhost:{other}{PATH}", client_id="localhost-client")
    _refused_without_redirect(requests.get(url, allow_redirects=False, timeout=TIMEOUT))
    url = authorize_url(
        sandbox, f"http://localhost:{registered}{PATH}", client_id="localhost-client"
    )
    assert requests.get(url, allow_redirects=False, timeout=TIMEOUT).status_code == 200


@pytest.mark.parametrize("suffix", ["#fragment", "#"])
def test_a_loopback_redirect_uri_on_another_port_may_not_carry_a_fragment(sandbox, suffix):
    # RFC 6749 §3.1.2: the redirection endpoint URI must not include a fragment.
    url = authorize_url(sandbox, f"http://127.0.0.1:5001{PATH}{suffix}")
    _refused_without_redirect(requests.get(url, allow_redirects=False, timeout=TIMEOUT))


@pytest.fixture
def free_port_pair() -> tuple[int, int]:
    from testing.ports import free_ports

    first, second = free_ports(2)
    return first, second


def test_a_client_may_not_authenticate_twice_basic_and_body(sandbox, listener):  # noqa: F811
    # RFC 6749 §2.3: one authentication method per request; GoTo takes Basic only.
    code = get_code(sandbox, listener)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": listener,
        "client_secret": sandbox.info.client_secret,
    }
    answer = requests.post(
        f"{sandbox.url}/oauth/token",
        data=data,
        headers={"Authorization": basic(sandbox.info.client_id, sandbox.info.client_secret)},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert "HTTP Basic" in answer.json()["error_description"]


def test_no_scope_at_all_is_refused_not_granted_as_nothing(sandbox, listener):  # noqa: F811
    # validator.validate_scopes: a client with no scopes, asking for none, gets no default to
    # fall back on; a code for nothing is not issued (RFC 6749 §3.3: invalid_scope).
    sandbox.add_client("no-scopes", "s3cret", redirect_uris=[listener], scopes=[])
    url = authorize_url(sandbox, listener, client_id="no-scopes", scope=None)
    answer = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 302
    assert "error=invalid_scope" in answer.headers["Location"]


def test_a_replayed_code_revokes_its_tokens_whatever_else_is_wrong_with_the_replay(
    sandbox,
    listener,  # noqa: F811
):
    # validator.validate_code: the replay is caught before the PKCE check, so a replay with a
    # wrong (or no) verifier still revokes what the code issued (RFC 6749 §4.1.2).
    verifier, challenge = pkce_pair()
    code = get_code(sandbox, listener, code_challenge=challenge, code_challenge_method="S256")
    first = exchange(sandbox, code, listener, code_verifier=verifier).json()
    assert whoami(sandbox, first["access_token"]).status_code == 200
    replay = exchange(sandbox, code, listener, code_verifier="x" * 43)
    assert replay.status_code == 400 and "already used" in replay.json()["error_description"]
    assert whoami(sandbox, first["access_token"]).status_code == 401


def test_a_redirect_uri_sent_at_authorize_must_be_sent_again_even_if_it_is_the_only_one(
    sandbox,
    listener,  # noqa: F811
):
    # RFC 6749 §4.1.3: "required, if the redirect_uri parameter was included in the
    # authorization request". A client with one registered URI would otherwise pass on the
    # default.
    sandbox.add_client("one-uri", "s3cret", redirect_uris=[listener], scopes=["messaging.v1.send"])
    code = get_code(sandbox, listener, client_id="one-uri")
    answer = exchange(sandbox, code, None, auth=basic("one-uri", "s3cret"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert exchange(sandbox, code, listener, auth=basic("one-uri", "s3cret")).status_code == 200


def test_a_replayed_rotated_refresh_token_revokes_the_family_even_when_it_asks_for_more(
    tmp_path,
    listener,  # noqa: F811
):
    # validator.validate_refresh_token: the replay is caught before the scope check, so a
    # replay that also asks for a scope never granted still revokes the family (RFC 9700 §4.14).
    from helpers.sandbox import serve_in_thread

    with serve_in_thread(tmp_path / "rotating", refresh_mode="rotate") as sandbox:
        first = tokens_for(sandbox, listener)
        second = refresh(sandbox, first["refresh_token"]).json()
        replay = refresh(
            sandbox, first["refresh_token"], scope="messaging.v1.send identity:scim.me"
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert whoami(sandbox, second["access_token"]).status_code == 401


def test_with_several_redirect_uris_registered_the_request_must_name_one(
    sandbox,
    listener,  # noqa: F811
):
    # RFC 6749 §3.1.2.3: with more than one registered, redirect_uri is required.
    other = listener.replace("/login/", "/other/")
    sandbox.add_client(
        "two-uris", "s3cret", redirect_uris=[listener, other], scopes=["messaging.v1.send"]
    )
    url = authorize_url(sandbox, None, client_id="two-uris")
    _refused_without_redirect(requests.get(url, allow_redirects=False, timeout=TIMEOUT))


@pytest.mark.parametrize(
    "stored",
    ["pbkdf2$0$00$00", "pbkdf2$-5$00$00", "sha1$1000$00$00", "pbkdf2$x$00$00", "garbage", ""],
)
def test_a_stored_password_hash_in_another_form_never_matches_and_never_raises(stored):
    from helpers.sandbox.store import check_password, hash_password

    assert check_password("tutorial", stored) is False
    assert check_password("tutorial", hash_password("tutorial")) is True
