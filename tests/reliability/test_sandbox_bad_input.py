"""The sandbox under generated bad input, and one code exchanged by many threads at once.

Property-based (hypothesis) requests to every endpoint, with generated parameters, headers and
bodies. Never a 500 — and, because the sandbox turns an unexpected exception into a 400, also
never an ERROR in its log (that is how a hidden crash would show). Errors are RFC-shaped: JSON
with ``error`` at /oauth/token, /oauth/revoke and the API; an HTML page with no redirect at
/oauth/authorize when the client or redirect URI cannot be trusted.
tests/sandbox/test_process.py::test_bad_input_never_gets_a_500 pins 12 hand-picked cases.
"""

from __future__ import annotations

import base64
import concurrent.futures
import logging
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.sandbox import serve_in_thread
from tests.sandbox.flows import basic, exchange, get_code, pkce_pair, refresh, tokens_for

from .conftest import PATH

TIMEOUT = 10
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    errors = Errors()
    logger = logging.getLogger("helpers.sandbox")
    logger.addHandler(errors)
    with serve_in_thread(tmp_path_factory.mktemp("fuzz")) as sandbox:
        sandbox.errors = errors
        sandbox.http = requests.Session()
        yield sandbox
        sandbox.http.close()
    logger.removeHandler(errors)


@pytest.fixture(autouse=True)
def _no_hidden_crash(request):
    if "box" not in request.fixturenames:
        yield
        return
    box = request.getfixturevalue("box")
    before = len(box.errors.records)
    yield
    crashes = box.errors.records[before:]
    assert not crashes, "the sandbox logged an unexpected exception:\n" + crashes[0].getMessage()


# --- strategies -------------------------------------------------------------------------------

_text = st.text(max_size=80)
_header_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=255, exclude_categories=("Cc", "Zs")),
    max_size=60,
)
_header_name = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"),
    min_size=1,
    max_size=20,
)


def _auth(sandbox):
    good = basic(sandbox.info.client_id, sandbox.info.client_secret)
    return st.one_of(
        st.just(None),
        st.just(good),
        st.just(basic(sandbox.info.client_id, "wrong")),
        st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=60)),
        st.builds(lambda t: "Basic " + t, _header_text),
        st.builds(lambda t: "Bearer " + t, _header_text),
        _header_text,
    )


def _params(names):
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=12), _text, max_size=7)


_content_type = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        None,
    ]
)
_extra_headers = st.dictionaries(_header_name, _header_text, max_size=5)


def _post(sandbox, path, params, raw, auth, ctype, extra):
    headers = {k: v for k, v in extra.items() if k.lower() not in ("content-length", "host")}
    headers.pop("Transfer-Encoding", None)
    if auth is not None:
        headers["Authorization"] = auth
    if ctype is not None:
        headers["Content-Type"] = ctype
    body = raw if raw is not None else urlencode(params).encode()
    return sandbox.http.post(sandbox.url + path, data=body, headers=headers, timeout=TIMEOUT)


def assert_json_error(r: requests.Response, allowed: set[int]) -> None:
    assert r.status_code in allowed, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    data = r.json()
    assert isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]
    if r.status_code == 401 and data["error"] == "invalid_client":
        assert r.headers.get("WWW-Authenticate", "").startswith("Basic ")


TOKEN_NAMES = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "client_id",
    "client_secret",
    "scope",
]


# --- the token and revocation endpoints -------------------------------------------------------


def test_token_endpoint_answers_generated_requests_with_rfc_errors(box):
    @FUZZ
    @given(
        params=_params(TOKEN_NAMES),
        grant=st.sampled_from(["authorization_code", "refresh_token", "password", "", None])
        | _text,
        raw=st.none() | st.binary(max_size=300),
        auth=_auth(box),
        ctype=_content_type,
        extra=_extra_headers,
    )
    def one(params, grant, raw, auth, ctype, extra):
        if grant is not None:
            params = {**params, "grant_type": grant}
        r = _post(box, "/oauth/token", params, raw, auth, ctype, extra)
        assert_json_error(r, {400, 401})

    one()


def test_revocation_endpoint_answers_generated_requests_with_200_or_rfc_errors(box):
    @FUZZ
    @given(
        params=_params(["token", "token_type_hint", "client_id"]),
        raw=st.none() | st.binary(max_size=200),
        auth=_auth(box),
        ctype=_content_type,
        extra=_extra_headers,
    )
    def one(params, raw, auth, ctype, extra):
        r = _post(box, "/oauth/revoke", params, raw, auth, ctype, extra)
        if r.status_code != 200:  # RFC 7009 §2.2: an unknown token is still a 200
            assert_json_error(r, {400, 401})

    one()


# --- the authorization endpoint ---------------------------------------------------------------


def test_authorization_endpoint_never_redirects_to_an_untrusted_address(box, standin_listener):
    good_client = box.info.client_id

    @FUZZ
    @given(
        client_id=st.sampled_from([good_client, None, "", "evil-client"]) | _text,
        redirect_uri=st.sampled_from(
            [
                standin_listener,
                None,
                f"http://127.0.0.1:1{PATH}",
                f"http://[::1]:8080{PATH}",
                f"http://localhost:5000{PATH}",
                f"https://evil.example{PATH}",
                f"http://127.0.0.1.evil.example:5000{PATH}",
                f"http://127.0.0.1:5000{PATH}/../../steal",
                f"http://127.0.0.1:5000{PATH}#frag",
                "javascript:alert(1)",
            ]
        )
        | _text,
        params=_params(
            ["response_type", "scope", "state", "code_challenge", "code_challenge_method"]
        ),
        extra=_extra_headers,
    )
    def one(client_id, redirect_uri, params, extra):
        query = dict(params)
        for name, value in (("client_id", client_id), ("redirect_uri", redirect_uri)):
            if value is not None:
                query[name] = value
        headers = {k: v for k, v in extra.items() if k.lower() not in ("host", "content-length")}
        r = box.http.get(
            f"{box.url}/oauth/authorize?{urlencode(query)}",
            headers=headers,
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert r.status_code in (200, 302, 400), (r.status_code, r.text[:300])
        if r.status_code == 302:
            # Only to a registered (loopback, any port) redirect URI, with the error or to login.
            target = urlsplit(r.headers["Location"])
            assert target.scheme == "http" and target.hostname in ("127.0.0.1", "::1")
            assert target.path == PATH and "error=" in target.query
            assert client_id == good_client
        else:
            assert "Location" not in r.headers
            assert r.headers["Content-Type"].startswith("text/html")
        if client_id != good_client:
            assert r.status_code == 400  # RFC 6749 §4.1.2.1: never redirect for a bad client

    one()


# --- the pages' forms, the API, and any route with odd headers -------------------------------


def test_login_and_consent_forms_refuse_generated_posts_with_a_page(box):
    @FUZZ
    @given(
        path=st.sampled_from(["/oauth/login", "/oauth/consent"]),
        params=_params(["csrf_token", "txn", "email", "password", "decision"]),
        raw=st.none() | st.binary(max_size=200),
        cookie=st.none() | _header_text,
        ctype=_content_type,
    )
    def one(path, params, raw, cookie, ctype):
        extra = {"Cookie": cookie} if cookie is not None else {}
        r = _post(box, path, params, raw, None, ctype, extra)
        assert r.status_code in (400, 403), (r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("text/html")
        assert "Location" not in r.headers

    one()


def test_the_api_refuses_generated_requests_with_rfc_6750_errors(box):
    @FUZZ
    @given(
        method_path=st.sampled_from(
            [("POST", "/messaging/v1/messages"), ("GET", "/identity/v1/Users/me")]
        ),
        auth=_auth(box),
        body=st.none() | st.binary(max_size=200) | st.builds(str.encode, _text),
        ctype=_content_type,
    )
    def one(method_path, auth, body, ctype):
        method, path = method_path
        headers = {}
        if auth is not None:
            headers["Authorization"] = auth
        if ctype is not None:
            headers["Content-Type"] = ctype
        r = box.http.request(method, box.url + path, data=body, headers=headers, timeout=TIMEOUT)
        assert r.status_code in (400, 401, 403), (r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("application/json")
        assert isinstance(r.json(), dict)
        if r.status_code == 401:
            assert r.headers["WWW-Authenticate"].startswith("Bearer ")

    one()


def test_any_route_with_generated_methods_and_headers_never_gets_a_5xx(box):
    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
        path=st.sampled_from(
            [
                "/",
                "/health",
                "/oauth/authorize",
                "/oauth/token",
                "/oauth/revoke",
                "/oauth/consent",
                "/debug/requests",
                "/sandbox/reset",
                "/sandbox/nothing",
                "/identity/v1/Users/me",
            ]
        )
        | st.builds(lambda t: "/" + t, _text),
        headers=_extra_headers,
    )
    def one(method, path, headers):
        headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        headers.pop("Transfer-Encoding", None)
        if path == "/sandbox/reset" and method == "POST":
            headers["Content-Type"] = "text/plain"  # never actually reset the fault switches
        r = box.http.request(
            method,
            box.url + path.replace("?", "%3F").replace("#", "%23"),
            headers=headers,
            timeout=TIMEOUT,
        )
        assert r.status_code < 500 or r.status_code == 503, (r.status_code, r.text[:300])

    one()


# --- one code, many threads -------------------------------------------------------------------


def test_one_code_exchanged_by_32_threads_at_once_issues_exactly_one_token(box, standin_listener):
    for _ in range(5):
        verifier, challenge = pkce_pair()
        code = get_code(
            box, standin_listener, code_challenge=challenge, code_challenge_method="S256"
        )
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            answers = list(
                pool.map(
                    lambda _, c=code, v=verifier: exchange(
                        box, c, standin_listener, code_verifier=v
                    ),
                    range(32),
                )
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [400] * 31, statuses
        assert all(a.json()["error"] == "invalid_grant" for a in answers if a.status_code == 400)


def test_one_rotating_refresh_token_used_by_16_threads_at_once_rotates_once(
    tmp_path, standin_listener
):
    with serve_in_thread(tmp_path / "rotate", refresh_mode="rotate") as sandbox:
        for _ in range(3):
            token = tokens_for(sandbox, standin_listener)
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                answers = list(
                    pool.map(lambda _, t=token: refresh(sandbox, t["refresh_token"]), range(16))
                )
            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200] + [400] * 15, statuses
