"""The sandbox's browser session under attack: fixation, sign-out, cookie lifetime, password
guessing (security review findings 1, 6 and 10; see docs/reliability.md).

Everything over real HTTP on loopback against a real sandbox, spoken as a browser would.
"""

from __future__ import annotations

import hashlib
import re
import time

import pytest
import requests

from helpers.sandbox import serve_in_thread
from tests.sandbox.flows import authorize_url

from .conftest import PATH

TIMEOUT = 10
REDIRECT = f"http://127.0.0.1:5000{PATH}"


@pytest.fixture
def box(tmp_path):
    with serve_in_thread(tmp_path / "box", users={"second@example.com": "second-pw"}) as sandbox:
        yield sandbox


def cookie_name(sandbox) -> str:
    return f"oauth_sandbox_{sandbox.url.rsplit(':', 1)[1]}"


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no {name} in the page"
    return found.group(1)


def open_login(sandbox, browser: requests.Session) -> tuple[str, str]:
    """GET /oauth/authorize in ``browser``: (txn, csrf token) of the login page."""
    page = browser.get(authorize_url(sandbox, REDIRECT), timeout=TIMEOUT)
    assert page.status_code == 200 and 'action="/oauth/login"' in page.text
    return hidden(page.text, "txn"), hidden(page.text, "csrf_token")


def post_login(sandbox, browser, txn, csrf, email=None, password=None) -> requests.Response:
    return browser.post(
        sandbox.url + "/oauth/login",
        data={
            "csrf_token": csrf,
            "txn": txn,
            "email": email or sandbox.info.user_email,
            "password": password or sandbox.info.user_password,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )


# --- finding 1: session fixation -------------------------------------------------------------


def test_a_session_id_planted_before_sign_in_is_not_signed_in_after(box):
    # The attacker gets a session id of their own and plants it in the learner's browser (any
    # page on another loopback port can set a 127.0.0.1 cookie: cookies ignore ports).
    attacker = requests.Session()
    open_login(box, attacker)
    planted = attacker.cookies[cookie_name(box)]

    learner = requests.Session()
    learner.cookies.set(cookie_name(box), planted, domain="127.0.0.1", path="/")
    txn, csrf = open_login(box, learner)
    signed_in = post_login(box, learner, txn, csrf)
    assert signed_in.status_code == 303
    assert learner.cookies[cookie_name(box)] != planted, "sign-in kept the session id"

    # The attacker's copy of the id no longer opens anything: no consent page for them.
    assert box.app.store.get_session(planted) is None
    mine = attacker.get(authorize_url(box, REDIRECT), timeout=TIMEOUT)
    assert 'action="/oauth/consent"' not in mine.text
    # The learner goes on with a new CSRF token.
    consent = learner.get(box.url + signed_in.headers["Location"], timeout=TIMEOUT)
    assert 'action="/oauth/consent"' in consent.text
    assert hidden(consent.text, "csrf_token") != csrf


def test_sign_out_ends_the_session_and_needs_the_csrf_token(box):
    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    post_login(box, browser, txn, csrf)
    home = browser.get(box.url + "/", timeout=TIMEOUT)
    assert 'action="/oauth/sign-out"' in home.text, "no sign-out button on the sandbox's page"
    token = hidden(home.text, "csrf_token")

    forged = browser.post(box.url + "/oauth/sign-out", data={"csrf_token": "x"}, timeout=TIMEOUT)
    assert forged.status_code == 403
    assert box.app.store.get_session(browser.cookies[cookie_name(box)]) is not None

    session_id = browser.cookies[cookie_name(box)]
    out = browser.post(box.url + "/oauth/sign-out", data={"csrf_token": token}, timeout=TIMEOUT)
    assert out.status_code == 200 and "signed out" in out.text.lower()
    assert box.app.store.get_session(session_id) is None
    again = browser.get(authorize_url(box, REDIRECT), timeout=TIMEOUT)
    assert 'action="/oauth/login"' in again.text


def test_the_consent_page_offers_sign_out(box):
    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    consent = browser.get(box.url + post_login(box, browser, txn, csrf).headers["Location"])
    assert 'action="/oauth/sign-out"' in consent.text


# --- finding 10 (part): the signed-in cookie's lifetime --------------------------------------


def test_the_signed_in_cookie_lives_at_most_an_hour(box):
    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    answer = post_login(box, browser, txn, csrf)
    cookie = answer.headers.get("Set-Cookie", "")
    max_age = re.search(r"Max-Age=(\d+)", cookie)
    assert max_age, f"sign-in set no cookie lifetime: {cookie!r}"
    assert int(max_age.group(1)) <= 3600
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- finding 6: guessing passwords ----------------------------------------------------------


def test_an_unknown_email_costs_the_same_password_hashing_as_a_wrong_password(box, monkeypatch):
    # Equal work, counted: a timing test would be flaky on a shared machine.
    calls = []
    real = hashlib.pbkdf2_hmac

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    post_login(box, browser, txn, csrf, password="wrong-password")
    known = len(calls)
    post_login(box, browser, txn, csrf, email="nobody@example.com", password="wrong-password")
    unknown = len(calls) - known
    assert known >= 1
    assert unknown == known


def test_repeated_wrong_passwords_slow_down_then_clear(box):
    from helpers.sandbox.throttle import Throttle

    box.app.throttle = Throttle(limit=3, pause=1.0)
    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    for _ in range(3):
        wrong = post_login(box, browser, txn, csrf, password="wrong")
        assert wrong.status_code == 200 and "Wrong email or password" in wrong.text
    # The next attempt waits, even with the right password, and the page says so.
    held = post_login(box, browser, txn, csrf)
    assert held.status_code == 429
    assert "wait" in held.text.lower() and "second" in held.text.lower()
    assert held.headers.get("Retry-After")
    # The same account from another browser is held too; another account from a fresh one not.
    other = requests.Session()
    other_txn, other_csrf = open_login(box, other)
    assert post_login(box, other, other_txn, other_csrf).status_code == 429
    fresh = requests.Session()
    fresh_txn, fresh_csrf = open_login(box, fresh)
    ok = post_login(box, fresh, fresh_txn, fresh_csrf, "second@example.com", "second-pw")
    assert ok.status_code == 303
    # Not a lock-out: after the short pause the right password works.
    time.sleep(1.1)
    assert post_login(box, browser, txn, csrf).status_code == 303


def test_one_browser_guessing_many_accounts_is_slowed_too(box):
    from helpers.sandbox.throttle import Throttle

    box.app.throttle = Throttle(limit=3, pause=30.0)
    browser = requests.Session()
    txn, csrf = open_login(box, browser)
    for n in range(3):
        post_login(box, browser, txn, csrf, email=f"guess{n}@example.com", password="x")
    held = post_login(box, browser, txn, csrf, email="second@example.com", password="second-pw")
    assert held.status_code == 429


def test_the_default_throttle_is_a_short_pause_not_a_lock_out(box):
    throttle = box.app.throttle
    assert 3 <= throttle.limit <= 10
    assert throttle.pause <= 60
