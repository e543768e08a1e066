"""The class on a real JupyterHub: two learners sign in at once through the hub's proxy and the
class's one callback; a forged or misdirected callback reaches nobody; the instructor page.

The learners' kernels are stood in for by this process (their listener, their registration
with the class callback service, their token exchange over the back channel); their browsers
by sessions signed in to the hub. tests/classroom/test_lab.py does the same in JupyterLab.
"""

from __future__ import annotations

import os
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
from testing.hubproc import ADMIN_PASSWORD
from testing.ports import free_port

from .conftest import ADMIN, IDLE, INSTRUCTOR, LEARNERS


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


def _rows(page: str) -> dict[str, tuple[str, str]]:
    """The instructor page's rows: learner -> (furthest stage, progress)."""
    found = re.findall(
        r"<td class='learner'>([^<]+)</td><td class='stage'>([^<]+)</td>"
        r"<td class='status'>([^<]*)</td>",
        page,
    )
    return {name: (stage, status) for name, stage, status in found}


def test_the_instructor_page_shows_the_whole_class_and_learners_cannot_open_it(servers):
    hub = servers
    page = hub.session(INSTRUCTOR).get(hub.url + "/services/oauth-callback/instructor", timeout=30)
    assert page.status_code == 200, page.text[:300]
    rows = _rows(page.text)
    # Everyone on the hub's list but the instructors; carol never started.
    assert set(rows) == {*LEARNERS, IDLE}
    assert {name: rows[name][0] for name in LEARNERS} == {name: "token" for name in LEARNERS}
    assert rows[IDLE] == ("—", "not started")
    refused = hub.session("alice").get(hub.url + "/services/oauth-callback/instructor", timeout=30)
    assert refused.status_code == 403


def test_kernels_reports_reach_the_page_and_its_json_twin_for_instructors_and_admins(servers):
    hub = servers
    alice = Seat("alice", hub.router_url, hub.user_token("alice"), free_port())
    bob = Seat("bob", hub.router_url, hub.user_token("bob"), free_port())
    bob.report({"error": "InvalidGrant", "message": "<script>alert(1)</script> sign in again"})
    alice.report({"exercise": "2.1", "status": "right"})  # progress: bob is now stuck longest
    with pytest.raises(ClassroomError, match="400"):
        bob.report({"error": "not a class name", "message": "x"})
    with pytest.raises(ClassroomError, match="403"):
        Seat("bob", hub.router_url, "not-a-hub-token", 0).report(
            {"exercise": "2.1", "status": "right"}
        )

    twin = hub.url + "/services/oauth-callback/instructor.json"
    answer = requests.get(twin, headers=_token(hub.user_token(INSTRUCTOR)), timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    learners = answer.json()["learners"]
    assert [entry["name"] for entry in learners][:2] == ["bob", "alice"]
    by_name = {entry["name"]: entry for entry in learners}
    assert by_name["bob"]["last_error"]["error"] == "InvalidGrant"
    assert by_name["alice"]["exercises"]["2.1"] == "right"
    assert by_name[IDLE]["status"] == "not started"
    page = hub.session(INSTRUCTOR).get(hub.url + "/services/oauth-callback/instructor", timeout=30)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; sign in again" in page.text
    assert "<script>" not in page.text
    assert "Stuck longest: <b>bob</b>" in page.text

    # A learner's token is refused; a hub admin outside the group sees the page, and is not
    # listed as a learner.
    assert requests.get(twin, headers=_token(alice.api_token), timeout=30).status_code == 403
    answer = hub.session(ADMIN, ADMIN_PASSWORD).get(twin, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    assert ADMIN not in {entry["name"] for entry in answer.json()["learners"]}


def _token(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def test_each_learners_notebooks_read_their_own_env_not_one_above_their_home(servers, monkeypatch):
    """A learner's home is under classroom/.state by default, inside the repository: without
    one of its own, the search for a .env from their notebooks reached the teacher's."""
    for name in LEARNERS:
        home = servers.state / "home" / name
        monkeypatch.chdir(home / "notebooks")
        assert configuration.env_file_path() == home / ".env"
        values, source = configuration.read()
        assert source == str(home / ".env") and not values.keys() - set(os.environ)


def test_the_hub_logs_no_deprecated_authenticator_setting(servers):
    log = servers.log.read_text("utf-8", "replace")
    assert (
        "Using Authenticator: jupyterhub.authenticators.shared.SharedPasswordAuthenticator" in log
    )
    assert "DummyAuthenticator" not in log
    assert "deprecated in JupyterHub" not in log


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
