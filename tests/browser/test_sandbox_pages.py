"""The sandbox's login and consent pages, and the listener's pages, in a real Chromium.

Each test starts a sandbox in a thread and a real ``CallbackListener`` on a free loopback port,
then does in the browser what a learner does: open the authorization URL, sign in, click Allow
or Deny. The code (or the denial) must arrive at the listener exactly as it would from a
learner's browser.
"""

from __future__ import annotations

import re

import pytest

from helpers import config
from helpers.authorization import AuthorizationRequest
from helpers.callback import CallbackListener
from helpers.errors import AuthorizationDenied
from helpers.sandbox.validator import SCOPES
from testing.ports import free_port

pytestmark = pytest.mark.browser

REDIRECT_PATH = "/login/oauth2/code/goto"
ASKED_SCOPES = ("messaging.v1.send", "messaging.v1.read")
#: How long the test waits for the listener once the browser has shown its page (seconds).
LISTENER_WAIT = 10


def _config(sandbox, redirect_uri: str) -> config.OAuthConfig:
    info = sandbox.info
    return config.validate(
        {
            "OAUTH_SERVICE_URL": info.url,
            "OAUTH_CLIENT_ID": info.client_id,
            "OAUTH_CLIENT_SECRET": info.client_secret,
            "OAUTH_REDIRECT_URI": redirect_uri,
            "OAUTH_SCOPES": " ".join(ASKED_SCOPES),
            "_SANDBOX": "1",
        },
        source="the browser test",
    )


@pytest.fixture
def sign_in(sandbox):
    """A fresh authorization request and a started listener on its redirect URI."""
    redirect_uri = f"http://127.0.0.1:{free_port()}{REDIRECT_PATH}"
    request = AuthorizationRequest.new(_config(sandbox, redirect_uri))
    events: list[tuple[str, str]] = []
    listener = CallbackListener(
        redirect_uri, request.state, on_event=lambda kind, msg: events.append((kind, msg))
    ).start()
    listener.events = events
    yield request, listener
    listener.stop()


def _expect_login_page(page, sandbox) -> None:
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.title().startswith("Sign in")
    # The demo account is shown, so a learner never has to guess it.
    assert page.locator("#demo-email").inner_text() == sandbox.info.user_email
    assert page.get_by_label("Email").is_visible()
    assert page.get_by_label("Password").is_visible()


def _expect_consent_page(page, sandbox) -> None:
    heading = page.get_by_role("heading", level=1)
    heading.filter(has_text="Allow").wait_for()
    assert re.fullmatch(r"Allow .+ to access your account\?", heading.inner_text())
    assert sandbox.info.user_email in page.locator("main").inner_text()
    items = page.locator("ul.scopes li")
    assert items.count() == len(ASKED_SCOPES)
    for item, scope in zip(items.all(), ASKED_SCOPES, strict=True):
        text = item.inner_text()
        assert scope in text and SCOPES[scope] in text, text
    assert page.get_by_role("button", name="Allow").is_visible()
    assert page.get_by_role("button", name="Deny").is_visible()


def test_wrong_password_then_sign_in_and_allow_brings_the_code_to_the_listener(
    page, sandbox, sign_in, shots
):
    request, listener = sign_in
    page.goto(request.url)
    _expect_login_page(page, sandbox)
    shots.take(page, "login-page", doc="sandbox-login")

    page.get_by_label("Email").fill(sandbox.info.user_email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Wrong email or password" in alert.inner_text()
    # Still the login page, with the email kept and the password emptied.
    assert page.get_by_label("Email").input_value() == sandbox.info.user_email
    assert page.get_by_label("Password").input_value() == ""
    shots.take(page, "wrong-password")

    page.get_by_label("Password").fill(sandbox.info.user_password)
    page.get_by_role("button", name="Sign in").click()
    _expect_consent_page(page, sandbox)
    assert request.redirect_uri in page.locator("main").inner_text()
    shots.take(page, "consent-page", doc="sandbox-consent")

    page.get_by_role("button", name="Allow").click()
    page.get_by_role("heading", name="Signed in").wait_for()
    assert page.url.startswith(request.redirect_uri + "?")
    assert "close this tab" in page.locator("body").inner_text()
    shots.take(page, "listener-signed-in", doc="listener-signed-in")

    result = listener.wait(LISTENER_WAIT)
    assert result.code and result.state == request.state
    # The code is a credential: the listener's page must not show it.
    assert result.code not in page.content()
    assert not listener.is_running


def test_deny_shows_the_listeners_denied_page_and_raises_authorization_denied(
    page, sandbox, sign_in, shots
):
    request, listener = sign_in
    page.goto(request.url)
    _expect_login_page(page, sandbox)
    page.get_by_label("Email").fill(sandbox.info.user_email)
    page.get_by_label("Password").fill(sandbox.info.user_password)
    page.get_by_role("button", name="Sign in").click()
    _expect_consent_page(page, sandbox)

    page.get_by_role("button", name="Deny").click()
    page.get_by_role("heading", name="Access was not granted").wait_for()
    assert "error=access_denied" in page.url
    assert "refused access on the consent page" in page.locator("body").inner_text()
    shots.take(page, "listener-denied")

    with pytest.raises(AuthorizationDenied):
        listener.wait(LISTENER_WAIT)


def _focused(page) -> str:
    """What has the keyboard focus: 'tag#id' or 'tag:text'."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return "";
            const tag = el.tagName.toLowerCase();
            return el.id ? `${tag}#${el.id}` : `${tag}:${el.textContent.trim()}`;
        }"""
    )


def test_keyboard_only_sign_in_and_allow(page, sandbox, sign_in, shots):
    """No mouse: autofocus, Tab between labelled fields, Enter submits, Space presses Allow."""
    request, listener = sign_in
    keyboard = page.keyboard
    page.goto(request.url)
    _expect_login_page(page, sandbox)

    assert _focused(page) == "input#email", "the email field should have the focus on arrival"
    keyboard.type(sandbox.info.user_email)
    keyboard.press("Tab")
    assert _focused(page) == "input#password"
    keyboard.type(sandbox.info.user_password)
    shots.take(page, "keyboard-login-filled")
    keyboard.press("Enter")
    _expect_consent_page(page, sandbox)

    # Tab walks the page's controls in order: Allow comes first, then Deny.
    keyboard.press("Tab")
    assert _focused(page) == "button:Allow"
    keyboard.press("Tab")
    assert _focused(page) == "button:Deny"
    keyboard.press("Shift+Tab")
    assert _focused(page) == "button:Allow"
    shots.take(page, "keyboard-allow-focused")
    keyboard.press("Space")

    page.get_by_role("heading", name="Signed in").wait_for()
    result = listener.wait(LISTENER_WAIT)
    assert result.state == request.state and result.code


def test_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(
    page, sandbox, sign_in, shots
):
    _, listener = sign_in
    # Same loopback port as the listener, another path: not registered for the client.
    port = listener.port
    rogue = f"http://127.0.0.1:{port}/steal-the-code"
    cfg = _config(sandbox, rogue)
    request = AuthorizationRequest.new(cfg)
    requested_urls: list[str] = []
    page.on("request", lambda r: requested_urls.append(r.url))

    response = page.goto(request.url)
    page.get_by_role("heading", name="This application's request is not valid").wait_for()
    assert response is not None and response.status == 400
    assert page.url == request.url, "the browser must stay on the sandbox"
    assert "redirect uri" in page.get_by_role("alert").inner_text().lower()
    assert "OAUTH_REDIRECT_URI" in page.locator("main").inner_text()  # what to check next
    shots.take(page, "unregistered-redirect-uri")

    # Nothing reached the address, and no login form was offered.
    assert not [u for u in requested_urls if f":{port}/" in u]
    assert page.get_by_label("Password").count() == 0
    assert [kind for kind, _ in listener.events] == ["listening"]
