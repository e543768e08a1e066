"""The authorization endpoint as a learner meets it: login page, consent page, errors."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from helpers.sandbox.store import DB_NAME
from testing.scripted_browser import UnexpectedPage, sign_in
from tests.sandbox.flows import TIMEOUT, authorize_url, callback_params, get_code

SCRIPT = Path(__file__).resolve().parents[2] / "testing" / "scripted_browser.py"


def _form_fields(text: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|txn)" value="([^"]*)"', text))


def _open_login(sandbox, listener, **params):
    browser = requests.Session()
    page = browser.get(authorize_url(sandbox, listener, **params), timeout=TIMEOUT)
    assert page.status_code == 200 and 'action="/oauth/login"' in page.text
    return browser, page, _form_fields(page.text)


def _location_params(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_scripted_browser_signs_in_and_reaches_the_callback_with_code_and_state(sandbox, listener):
    url = authorize_url(sandbox, listener, state="abc123")
    response = sign_in(url)
    assert response.status_code == 200
    assert response.text == "<h1>Callback received</h1>"
    got = callback_params(response)
    assert got["state"] == "abc123"
    assert len(got["code"]) >= 20


def test_deny_redirects_with_access_denied_description_and_state(sandbox, listener):
    response = sign_in(authorize_url(sandbox, listener, state="s-1"), action="deny")
    got = callback_params(response)
    assert got["error"] == "access_denied"
    assert got["state"] == "s-1"
    assert got["error_description"]
    assert "code" not in got


def test_wrong_password_shows_the_login_form_again_with_a_message(sandbox, listener):
    browser, _, fields = _open_login(sandbox, listener)
    answer = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "not-it"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert 'action="/oauth/login"' in answer.text
    assert "Wrong email or password" in answer.text
    assert 'role="alert"' in answer.text
    # the email is kept and focus goes to the password, the field left to fix
    assert re.search(
        r'<input id="email"[^>]*value="learner@example.com"(?![^>]*autofocus)', answer.text
    )
    assert re.search(
        r'<input id="password"[^>]*autofocus[^>]*aria-describedby="login-error"', answer.text
    )
    with pytest.raises(UnexpectedPage, match="login was refused"):
        sign_in(authorize_url(sandbox, listener), password="wrong")


@pytest.mark.parametrize("csrf", [None, "forged-token"])
@pytest.mark.parametrize("form", ["login", "consent"])
def test_a_form_without_the_right_csrf_token_is_refused(sandbox, listener, form, csrf):
    browser, _, fields = _open_login(sandbox, listener)
    if form == "consent":
        browser.post(
            f"{sandbox.url}/oauth/login",
            data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
            timeout=TIMEOUT,
        )
        data = {"txn": fields["txn"], "decision": "allow"}
    else:
        data = {"txn": fields["txn"], "email": sandbox.info.user_email, "password": "tutorial"}
    if csrf:
        data["csrf_token"] = csrf
    answer = browser.post(
        f"{sandbox.url}/oauth/{form}", data=data, allow_redirects=False, timeout=TIMEOUT
    )
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert "Location" not in answer.headers


def test_a_form_post_without_the_session_cookie_is_refused(sandbox, listener):
    _, _, fields = _open_login(sandbox, listener)
    answer = requests.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 403


def test_session_cookie_is_httponly_and_samesite_lax(sandbox, listener):
    _, page, _ = _open_login(sandbox, listener)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_signed_in_browser_goes_straight_to_consent(sandbox, listener):
    browser, _, fields = _open_login(sandbox, listener)
    browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        timeout=TIMEOUT,
    )
    again = browser.get(authorize_url(sandbox, listener), timeout=TIMEOUT)
    assert 'action="/oauth/consent"' in again.text
    assert 'action="/oauth/login"' not in again.text


def test_consent_page_names_client_user_and_each_scope_in_plain_language(sandbox, listener):
    browser, _, fields = _open_login(sandbox, listener, scope="messaging.v1.send messaging.v1.read")
    consent = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        timeout=TIMEOUT,
    )
    text = consent.text
    assert "tutorial-oauth-client" in text
    assert sandbox.info.user_email in text
    assert "Send text messages" in text and "messaging.v1.send" in text
    assert "Read your text-message conversations" in text
    assert re.search(r'<button type="submit" name="decision" value="allow">Allow</button>', text)
    assert re.search(r'<button[^>]*value="deny"[^>]*>Deny</button>', text)


class _A11y(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs, self.labels, self.scripts, self.submit_inputs = [], set(), 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") not in ("hidden",):
            self.inputs.append(a.get("id"))
            if a.get("type") == "submit":
                self.submit_inputs += 1
        if tag == "label":
            self.labels.add(a.get("for"))
        if tag == "script":
            self.scripts += 1


def test_pages_label_every_input_use_real_buttons_and_need_no_javascript(sandbox, listener):
    browser, login, fields = _open_login(sandbox, listener)
    consent = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        timeout=TIMEOUT,
    )
    for page in (login, consent):
        parsed = _A11y()
        parsed.feed(page.text)
        assert all(i and i in parsed.labels for i in parsed.inputs), parsed.inputs
        assert parsed.scripts == 0 and parsed.submit_inputs == 0
        assert '<html lang="en">' in page.text
        assert page.headers["X-Frame-Options"] == "DENY"


def test_login_page_shows_the_demo_account(sandbox, listener):
    _, page, _ = _open_login(sandbox, listener)
    assert sandbox.info.user_email in page.text and "tutorial" in page.text


def test_echoed_values_are_html_escaped(sandbox, listener):
    browser, _, fields = _open_login(sandbox, listener)
    answer = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": '"><script>alert(1)</script>', "password": "x"},
        timeout=TIMEOUT,
    )
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text


def test_unknown_client_gets_an_error_page_and_no_redirect(sandbox, listener):
    answer = requests.get(
        authorize_url(sandbox, listener, client_id="no-such-client"),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "text/html" in answer.headers["Content-Type"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:5000/other/path",
        "http://localhost:5000/login/oauth2/code/goto",
        "https://127.0.0.1:5000/login/oauth2/code/goto",
        "http://127.0.0.1:5000/login/oauth2/code/goto?extra=1",
        "http://evil.example/login/oauth2/code/goto",
        "http://127.0.0.1:5000/login/oauth2/code/goto/",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(sandbox, redirect_uri):
    answer = requests.get(
        authorize_url(sandbox, redirect_uri), allow_redirects=False, timeout=TIMEOUT
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers
    assert "redirect_uri" in answer.text


@pytest.mark.parametrize("port", [5000, 1024, 65000])
def test_any_port_of_the_loopback_redirect_uri_is_accepted(sandbox, port):
    # RFC 8252 section 7.3: the registered port does not bind a loopback redirect URI.
    answer = requests.get(
        authorize_url(sandbox, f"http://127.0.0.1:{port}/login/oauth2/code/goto"),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200 and 'action="/oauth/login"' in answer.text


def test_missing_redirect_uri_uses_the_registered_one(sandbox):
    answer = requests.get(
        authorize_url(sandbox, None, scope="messaging.v1.send"),  # no redirect_uri
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"scope": "messaging.v1.notifications.manage"}, "invalid_scope"),
        ({"scope": "no.such.scope"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "x" * 43}, "invalid_request"),  # method would default to plain
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
)
def test_other_authorization_errors_redirect_with_error_and_state(sandbox, listener, params, error):
    answer = requests.get(
        authorize_url(sandbox, listener, state="keep-me", **params),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(listener)
    got = _location_params(answer)
    assert got["error"] == error
    assert got["state"] == "keep-me"


def test_a_pending_request_can_be_answered_only_once(sandbox, listener):
    browser, _, fields = _open_login(sandbox, listener)
    consent = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        timeout=TIMEOUT,
    )
    # Sign-in gives the browser a new session and CSRF token: the consent form carries them.
    data = {**_form_fields(consent.text), "decision": "allow"}
    first = browser.post(
        f"{sandbox.url}/oauth/consent", data=data, allow_redirects=False, timeout=TIMEOUT
    )
    second = browser.post(
        f"{sandbox.url}/oauth/consent", data=data, allow_redirects=False, timeout=TIMEOUT
    )
    assert first.status_code == 302 and "code=" in first.headers["Location"]
    assert second.status_code == 400 and "Location" not in second.headers


def test_scripted_browser_cli_reports_no_listener_and_exits_zero(sandbox):
    url = authorize_url(sandbox, "http://127.0.0.1:9/login/oauth2/code/goto")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), url], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "Nothing listens at http://127.0.0.1:9/login/oauth2/code/goto" in done.stdout
    assert "code=" not in done.stdout


def test_scripted_browser_cli_exits_nonzero_on_an_unexpected_page(sandbox, listener):
    url = authorize_url(sandbox, listener, client_id="unknown-client")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), url], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "Unexpected page" in done.stderr


def test_scripted_browser_takes_action_from_the_environment(sandbox, listener, monkeypatch):
    monkeypatch.setenv("SCRIPTED_BROWSER_ACTION", "deny")
    got = callback_params(sign_in(authorize_url(sandbox, listener)))
    assert got["error"] == "access_denied"


def test_code_from_the_pages_is_bound_to_the_signed_in_user(sandbox, listener):
    sandbox.add_user("second@example.com", "pw-2")
    code = get_code(sandbox, listener, email="second@example.com", password="pw-2")
    assert code


def test_the_session_survives_other_local_apps_odd_cookies(sandbox, listener):
    # 127.0.0.1 carries Jupyter's cookies too; http.cookies would drop the whole header.
    browser, _, fields = _open_login(sandbox, listener)
    ours = next(c for c in browser.cookies if c.name.startswith("oauth_sandbox_"))
    header = (
        '_xsrf=2|abc|def|123; username-127-0-0-1-8888="2|1:0|10:17|23:u|44:abc==|d3"; '
        f"weird cookie=1; {ours.name}={ours.value}"
    )
    answer = requests.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": "tutorial"},
        headers={"Cookie": header},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 303


def test_head_and_home_page_answer(sandbox):
    assert requests.head(sandbox.url + "/health", timeout=TIMEOUT).status_code == 200
    home = requests.get(sandbox.url + "/", timeout=TIMEOUT)
    assert home.status_code == 200 and sandbox.info.client_id in home.text


def test_a_password_hash_without_its_iteration_count_is_not_accepted(sandbox, listener):
    # One stored form, pbkdf2$<iterations>$<salt>$<key>: no older formats to stay compatible with.
    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha256", b"old-pw", salt, 20_000)
    sandbox.add_user("old@example.com", "new-pw")
    with sqlite3.connect(sandbox.app.data_dir / DB_NAME) as db:
        db.execute(
            "UPDATE users SET password_hash=? WHERE email=?",
            (f"pbkdf2${salt.hex()}${key.hex()}", "old@example.com"),
        )
    with pytest.raises(UnexpectedPage, match="Wrong email or password"):
        sign_in(authorize_url(sandbox, listener), email="old@example.com", password="old-pw")
    sandbox.add_user("old@example.com", "new-pw")  # the way to set a password: hashed anew
    assert "code" in callback_params(
        sign_in(authorize_url(sandbox, listener), email="old@example.com", password="new-pw")
    )
