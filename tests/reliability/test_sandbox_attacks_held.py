"""The attacks the security review tried and found held, kept in the battery, now also against
the pages and endpoints its fixes added (sign-out, the owner's request log, the throttle page).

XSS, framing, CSRF, open redirects, PKCE downgrade, code replay and cross-client codes, DNS
rebinding. The protocol suite (tests/sandbox/) pins each once; here each runs against every
page or form it applies to.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
import requests

from helpers.sandbox import serve_in_thread
from helpers.sandbox.throttle import Throttle
from tests.sandbox.flows import authorize_url, basic, exchange, get_code, pkce_pair

from .conftest import PATH

TIMEOUT = 10
XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
EVIL_EMAIL = "x" + XSS.replace(" ", "") + "@example.com"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with serve_in_thread(tmp_path_factory.mktemp("held"), users={EVIL_EMAIL: "pw"}) as sandbox:
        sandbox.port = int(sandbox.url.rsplit(":", 1)[1])
        yield sandbox


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def signed_in(box, email=None, password=None):
    """A browser signed in to the sandbox, and its consent page."""
    browser = requests.Session()
    login = browser.get(authorize_url(box, f"http://127.0.0.1:5000{PATH}"), timeout=TIMEOUT)
    consent = browser.post(
        box.url + "/oauth/login",
        data={
            "csrf_token": hidden(login.text, "csrf_token"),
            "txn": hidden(login.text, "txn"),
            "email": email or box.info.user_email,
            "password": password or box.info.user_password,
        },
        timeout=TIMEOUT,
    )
    return browser, consent


def every_html_page(box) -> dict[str, requests.Response]:
    browser, consent = signed_in(box)
    pages = {
        "home (signed in)": browser.get(box.url + "/", timeout=TIMEOUT),
        "consent": consent,
        "debug refused": requests.get(box.url + "/debug/requests", timeout=TIMEOUT),
        "debug": requests.get(box.info.debug_url, timeout=TIMEOUT),
        "too long": requests.get(
            authorize_url(box, f"http://127.0.0.1:5000{PATH}", state="s" * 600), timeout=TIMEOUT
        ),
        "signed out": browser.post(
            box.url + "/oauth/sign-out",
            data={"csrf_token": hidden(consent.text, "csrf_token")},
            timeout=TIMEOUT,
        ),
    }
    box.app.throttle = Throttle(limit=1, pause=60)
    try:
        other = requests.Session()
        login = other.get(authorize_url(box, f"http://127.0.0.1:5000{PATH}"), timeout=TIMEOUT)
        form = {"csrf_token": hidden(login.text, "csrf_token"), "txn": hidden(login.text, "txn")}
        other.post(box.url + "/oauth/login", data={**form, "email": "a@b.c", "password": "x"})
        pages["throttled"] = other.post(
            box.url + "/oauth/login", data={**form, "email": "a@b.c", "password": "x"}
        )
    finally:
        box.app.throttle = Throttle()
    return pages


def test_every_page_refuses_frames_and_scripts(box):
    for name, page in every_html_page(box).items():
        assert page.headers["Content-Type"].startswith("text/html"), name
        assert page.headers["X-Frame-Options"] == "DENY", name
        csp = page.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, name
        assert page.headers["Cache-Control"] == "no-store", name
        assert "<script" not in page.text.lower(), name


def test_a_hostile_email_is_escaped_on_every_page_that_shows_it(box):
    browser, consent = signed_in(box, EVIL_EMAIL, "pw")
    home = browser.get(box.url + "/", timeout=TIMEOUT)
    for page in (consent, home):
        assert page.status_code == 200
        assert "<script>" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;" in page.text


def test_sign_out_from_another_site_is_refused(box):
    browser, _ = signed_in(box)
    session_cookie = dict(browser.cookies)
    forged = requests.post(
        box.url + "/oauth/sign-out",
        data={"csrf_token": "forged"},
        cookies=session_cookie,
        headers={"Origin": "https://evil.example"},
        timeout=TIMEOUT,
    )
    assert forged.status_code == 403
    assert (
        'action="/oauth/consent"'
        in browser.get(authorize_url(box, f"http://127.0.0.1:5000{PATH}"), timeout=TIMEOUT).text
    )


REDIRECTS = [
    "http://evil.example/login/oauth2/code/goto",
    "http://127.0.0.1.evil.example:5000/login/oauth2/code/goto",
    "http://127.0.0.1:5000@evil.example/login/oauth2/code/goto",
    "http://evil.example#@127.0.0.1:5000/login/oauth2/code/goto",
    "http://127.0.0.1:5000/login/oauth2/code/goto/../../../evil",
    "http://127.0.0.1:5000/login/oauth2/code/goto?next=http://evil.example",
    "http://127.0.0.1:5000/login/oauth2/code/goto#frag",
    "http://127.0.0.1:5000/login/oauth2/code/gotoX",
    "http://127.0.0.1:5000/LOGIN/oauth2/code/goto",
    "https://127.0.0.1:5000/login/oauth2/code/goto",
    "http://localhost:5000/login/oauth2/code/goto",
    "http://[::1]:5000/login/oauth2/code/goto",
    "http://0x7f000001:5000/login/oauth2/code/goto",
    "http://2130706433:5000/login/oauth2/code/goto",
    "http://127.1:5000/login/oauth2/code/goto",
    "http://user:pw@127.0.0.1:5000/login/oauth2/code/goto",
    "//evil.example/login/oauth2/code/goto",
    "javascript:alert(1)//127.0.0.1:5000/login/oauth2/code/goto",
    "data:text/html,<script>alert(1)</script>",
    "http://127.0.0.1:5000\\@evil.example/login/oauth2/code/goto",
    "http://127.0.0.1:99999/login/oauth2/code/goto",
    "http://127.0.0.1:5000/login/oauth2/code/goto%2F..%2Fevil",
]


@pytest.mark.parametrize("redirect_uri", REDIRECTS)
def test_no_open_redirect(box, redirect_uri):
    answer = requests.get(
        f"{box.url}/oauth/authorize?response_type=code&client_id={box.info.client_id}"
        f"&redirect_uri={quote(redirect_uri, safe='')}&state=s&scope=messaging.v1.send",
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    location = answer.headers.get("Location")
    if location is None:
        assert answer.status_code in (200, 400)
        assert answer.status_code == 400 or redirect_uri.startswith("http://127.0.0.1:5000/")
        return
    parts = urlsplit(location)
    assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", PATH), location


def test_pkce_downgrade_replay_and_cross_client_codes_are_refused(box, standin_listener):
    verifier, challenge = pkce_pair()
    code = get_code(box, standin_listener, code_challenge=challenge, code_challenge_method="S256")
    missing = exchange(box, code, standin_listener)  # the verifier left out
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert exchange(box, code, standin_listener, code_verifier=verifier).status_code == 200
    replay = exchange(box, code, standin_listener, code_verifier=verifier)
    assert replay.json()["error"] == "invalid_grant"  # replay
    plain = get_code(box, standin_listener)
    downgrade = exchange(box, plain, standin_listener, code_verifier=verifier)
    assert "downgrade" in downgrade.json()["error_description"]
    box.app.add_client(
        "other",
        "other-secret",
        redirect_uris=[f"http://127.0.0.1:5000{PATH}"],
        scopes=["messaging.v1.send"],
    )
    stolen = get_code(box, standin_listener)
    theirs = exchange(box, stolen, standin_listener, auth=basic("other", "other-secret"))
    assert theirs.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/debug/requests"),
        ("POST", "/oauth/sign-out"),
        ("POST", "/sandbox/shutdown"),
        ("GET", "/"),
    ],
)
def test_dns_rebinding_reaches_no_new_endpoint(box, method, path):
    answer = requests.request(
        method,
        box.url + path,
        headers={"Host": f"evil.example:{box.port}", "X-Sandbox-Control": "x"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 421
