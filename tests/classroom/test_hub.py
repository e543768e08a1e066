"""The class on a real JupyterHub: two learners sign in at once through the hub's proxy and the
class's one callback; a forged or misdirected callback reaches nobody; the instructor page.

The learners' kernels are stood in for by this process (their listener, their registration
with the class callback service, their token exchange over the back channel); their browsers
by sessions signed in to the hub. tests/classroom/test_lab.py does the same in JupyterLab.
"""

from __future__ import annotations

import re
import threading
from html import unescape

import pytest
import requests

from helpers import config as configuration
from helpers import tokens
from helpers.authorization import AuthorizationRequest
from helpers.callback import CallbackListener
from helpers.errors import ClassroomError
from helpers.hub import Seat
from helpers.sandbox.hub import class_password
from testing.ports import free_port

from .conftest import INSTRUCTOR, LEARNERS


def class_config(hub) -> configuration.OAuthConfig:
    """The config a learner's kernel gets from the hub's environment."""
    back = f"http://127.0.0.1:{hub.sandbox_port}"
    return configuration.validate(
        {
            "OAUTH_SERVICE_URL": back,
            "GOTO_API_URL": back,
            "OAUTH_AUTHORIZE_BASE_URL": hub.url + "/services/oauth-sandbox",
            "OAUTH_CLIENT_ID": "classroom",
            "OAUTH_CLIENT_SECRET": hub.client_secret(),
            "OAUTH_REDIRECT_URI": hub.url + "/services/oauth-callback/",
        }
    )


def _form(page: str, action_end: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form method="post" action="([^"]*' + action_end + ')"', page).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return unescape(action), {k: unescape(v) for k, v in fields.items()}


def browser_signs_in(hub, browser: requests.Session, url: str, name: str) -> requests.Response:
    """What the learner's browser does: the sign-in pages through the hub, Allow, the callback."""
    login = browser.get(url, timeout=30)
    assert login.status_code == 200 and "Sign in" in login.text, login.text[:300]
    action, fields = _form(login.text, "/oauth/login")
    assert action == "/services/oauth-sandbox/oauth/login"  # the form stays under the prefix
    fields.update(email=name, password=class_password(hub.class_secret(), name))
    consent = browser.post(hub.url + action, data=fields, timeout=30)
    assert consent.status_code == 200 and "Allow" in consent.text, consent.text[:300]
    action, fields = _form(consent.text, "/oauth/consent")
    fields["decision"] = "allow"
    to_class = browser.post(hub.url + action, data=fields, allow_redirects=False, timeout=30)
    assert to_class.status_code == 302
    assert to_class.headers["Location"].startswith(hub.url + "/services/oauth-callback/?")
    to_learner = browser.get(to_class.headers["Location"], allow_redirects=False, timeout=30)
    assert to_learner.status_code == 302, to_learner.text[:300]
    assert to_learner.headers["Location"].startswith(f"/user/{name}/proxy/")
    return browser.get(hub.url + to_learner.headers["Location"], timeout=60)


def sign_in_as(hub, name: str, results: dict) -> None:
    try:
        cfg = class_config(hub)
        seat = Seat(
            user=name, router_url=hub.router_url, api_token=hub.user_token(name), port=free_port()
        )
        request = AuthorizationRequest.new(cfg)
        seat.register(request.state)
        listener = CallbackListener(seat.listen_uri(cfg.redirect_uri), request.state).start()
        try:
            landed = browser_signs_in(hub, hub.session(name), request.url, name)
            result = listener.wait(timeout=60)
        finally:
            listener.stop()
        token = tokens.exchange(cfg, request, result.code)
        results[name] = (landed.status_code, token.principal)
    except BaseException as e:  # reported by the test below
        results[name] = e


@pytest.fixture(scope="module")
def servers(hub):
    for name in LEARNERS:
        hub.start_server(name)
    return hub


def test_two_learners_sign_in_at_once_through_the_class_callback(servers):
    hub, results = servers, {}
    threads = [threading.Thread(target=sign_in_as, args=(hub, n, results)) for n in LEARNERS]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == {name: (200, name) for name in LEARNERS}


def test_the_instructor_page_shows_each_learner_and_learners_cannot_open_it(servers):
    hub = servers
    page = hub.session(INSTRUCTOR).get(hub.url + "/services/oauth-callback/instructor", timeout=30)
    assert page.status_code == 200, page.text[:300]
    rows = dict(
        re.findall(r"<td class='learner'>([^<]+)</td><td class='stage'>([^<]+)</td>", page.text)
    )
    assert rows == {name: "token" for name in LEARNERS}
    refused = hub.session("alice").get(hub.url + "/services/oauth-callback/instructor", timeout=30)
    assert refused.status_code == 403


def test_a_forged_callback_at_the_class_path_reaches_nobody(servers):
    hub = servers
    seat = Seat(
        user="bob", router_url=hub.router_url, api_token=hub.user_token("bob"), port=free_port()
    )
    seat.register("bobs-real-state")
    answer = hub.session("alice").get(
        hub.url + "/services/oauth-callback/",
        params={"code": "attackers-code", "state": "a-guessed-state"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "sent to nobody" in answer.text


def test_a_learner_cannot_open_the_other_learners_server(servers):
    hub = servers
    answer = hub.session("alice").get(hub.url + "/user/bob/lab", timeout=30)
    assert answer.status_code == 403  # the hub's own answer, after its OAuth round trip
    assert "JupyterLab" not in answer.text


def test_a_callback_sent_straight_to_the_other_learners_listener_is_refused_by_its_state(servers):
    """On a local-process hub, alice's server can proxy to ANY loopback port, bob's listener's
    included: bob's state check is what refuses her forged callback (as notebook 03 teaches)."""
    hub = servers
    port = free_port()
    listener = CallbackListener(f"http://127.0.0.1:{port}/services/oauth-callback/", "bobs-state")
    listener.start()
    try:
        forged = hub.session("alice").get(
            f"{hub.url}/user/alice/proxy/{port}/services/oauth-callback/",
            params={"code": "attackers-code", "state": "not-bobs-state"},
            timeout=30,
        )
        assert forged.status_code == 403 and "state check failed" in forged.text
        assert listener.is_running and listener.status.kind == "ignored"
    finally:
        listener.stop()


def test_a_port_held_by_one_learner_cannot_be_claimed_by_another(servers):
    hub = servers
    port = free_port()
    Seat("alice", hub.router_url, hub.user_token("alice"), port).register("alice-state")
    with pytest.raises(ClassroomError, match="another learner"):
        Seat("bob", hub.router_url, hub.user_token("bob"), port).register("bob-state")
    with pytest.raises(ClassroomError, match="403"):
        Seat("bob", hub.router_url, "not-a-hub-token", port + 1).register("bob-state")


def test_only_the_sign_in_pages_are_served_through_the_hub(servers):
    hub = servers
    for path in ("/oauth/token", "/sandbox/reset", "/debug/requests", "/health"):
        answer = requests.post(hub.url + "/services/oauth-sandbox" + path, timeout=30)
        assert answer.status_code == 404, path
