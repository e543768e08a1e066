"""The sandbox's class options without a hub: more redirect URIs, the hub's prefix, learners'
accounts and progress events (helpers/sandbox/hub.py), over real HTTP on loopback."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import requests

from helpers.sandbox import serve_in_thread
from helpers.sandbox.__main__ import _serve_class, parse_args
from helpers.sandbox.hub import class_password

FRONT = "http://hub.example:8000/services/oauth-sandbox/"
SECRET = "class-secret"


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTH_SANDBOX_CLASS_SECRET", SECRET)
    with serve_in_thread(tmp_path / "sandbox", port=0) as running:
        args = parse_args(
            [
                "--redirect-uri",
                "http://127.0.0.1/",
                "--redirect-uri",
                "https://hub.example/services/oauth-callback/",
                "--public-url",
                FRONT,
                "--events-file",
                str(tmp_path / "events.jsonl"),
            ]
        )
        _serve_class(running.app, args)
        yield running, tmp_path / "events.jsonl"


def _authorize(base: str, client_id: str, redirect_uri: str, host: str | None = None):
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": "s" * 20,
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        }
    )
    headers = {"Host": host} if host else {}
    return requests.get(f"{base}/oauth/authorize?{query}", headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("redirect_uri", "registered"),
    [
        ("http://127.0.0.1:50123/", True),  # a loopback URI: any port (RFC 8252 §7.3)
        ("http://127.0.0.1:50123/login/oauth2/code/goto", True),  # the tutorial's own
        ("https://hub.example/services/oauth-callback/", True),  # exactly as registered
        ("https://hub.example/services/oauth-callback/x", False),
        ("https://hub.example:444/services/oauth-callback/", False),  # not loopback: no port play
        ("http://127.0.0.1:50123/other", False),
    ],
)
def test_each_registered_redirect_uri_and_no_other(sandbox, redirect_uri, registered):
    running, _ = sandbox
    page = _authorize(running.url, running.info.client_id, redirect_uri)
    assert (page.status_code == 200 and "Sign in" in page.text) is registered, page.text[:200]


def test_pages_through_the_hub_keep_to_its_prefix(sandbox):
    running, events = sandbox
    port = running.url.rsplit(":", 1)[1]
    front = f"http://127.0.0.1:{port}/services/oauth-sandbox"
    browser = requests.Session()
    # The proxy keeps the hub's Host header and the prefix.
    browser.headers["Host"] = "hub.example:8000"
    login = _authorize(front, running.info.client_id, "http://127.0.0.1:5000/", "hub.example:8000")
    assert 'action="/services/oauth-sandbox/oauth/login"' in login.text
    assert 'type="text"' in login.text and 'type="email"' not in login.text  # hub names
    assert "your JupyterHub name" in login.text and "demo-password" not in login.text
    browser.cookies.update(login.cookies)
    fields = dict(re.findall(r'name="(csrf_token|txn)" value="([^"]+)"', login.text))
    wrong = browser.post(
        front + "/oauth/login", data={**fields, "email": "alice", "password": "guess"}
    )
    assert "Wrong email or password" in wrong.text
    right = browser.post(
        front + "/oauth/login",
        data={**fields, "email": "alice", "password": class_password(SECRET.encode(), "alice")},
        allow_redirects=False,
    )
    assert right.status_code == 303
    assert right.headers["Location"].startswith("/services/oauth-sandbox/oauth/consent?")
    assert [json.loads(line)["stage"] for line in events.read_text().splitlines()] == ["signed in"]


def test_through_the_hub_only_the_sign_in_pages_and_only_for_the_hubs_name(sandbox):
    running, _ = sandbox
    port = running.url.rsplit(":", 1)[1]
    front = f"http://127.0.0.1:{port}/services/oauth-sandbox"
    host = {"Host": "hub.example:8000"}
    # The request log shows the whole class: not served through the hub, nor linked there.
    assert requests.get(front + "/debug/requests", headers=host, timeout=10).status_code == 404
    home = requests.get(front + "/", headers=host, timeout=10)
    assert home.status_code == 200 and "/debug/requests" not in home.text
    assert requests.post(front + "/sandbox/reset", headers=host, timeout=10).status_code == 404
    assert (
        requests.get(front + "/", headers={"Host": "evil.example"}, timeout=10).status_code == 421
    )
    # The back channel is unchanged.
    assert requests.get(running.url + "/health", timeout=10).status_code == 200
