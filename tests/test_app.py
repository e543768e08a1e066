"""``python app.py``, the whole tutorial in one file, gets a token from a sandbox.

The app runs as a learner runs it, in its own process; the test plays the learner's browser
(``testing/scripted_browser.py``) on the link it prints, after an attacker's forged callback.
Against a scripted token endpoint on loopback, the test plays the authorization server's
redirect itself, and the endpoint decodes HTTP Basic as RFC 6749 §2.3.1 says, or raw.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
import requests

from testing import scripted_browser
from testing.ports import free_port
from tests.conftest import SECRET
from tests.token_server import Answer, Seen, TokenServer

REPO = Path(__file__).resolve().parents[1]
LINK = "Sign in and allow access at: "


def app_env(sandbox, redirect_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH", "GOTO_"))}
    env.update(
        OAUTH_SERVICE_URL="",  # set and empty: a contributor's .env cannot point it at GoTo
        OAUTH_SANDBOX_DIR=sandbox.info.data_dir,
        OAUTH_SANDBOX_PORT=sandbox.url.rsplit(":", 1)[1],
        OAUTH_REDIRECT_URI=redirect_uri,
        PYTHONPATH=str(REPO),
    )
    return env


def server_env(url: str, secret: str, redirect_uri: str) -> dict[str, str]:
    """app.py's environment for an authorization server given in .env, as for GoTo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OAUTH", "GOTO_"))}
    env.update(
        OAUTH_SERVICE_URL=url,
        OAUTH_CLIENT_ID=CLIENT_ID,
        OAUTH_CLIENT_SECRET=secret,
        OAUTH_REDIRECT_URI=redirect_uri,
        PYTHONPATH=str(REPO),
    )
    return env


def start_app(sandbox, tmp_path, env=None) -> tuple[subprocess.Popen, str, str]:
    """app.py against the test's sandbox (or ``env(redirect_uri)``); returns the process, the
    link it printed, the redirect URI."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    app = subprocess.Popen(
        [sys.executable, str(REPO / "app.py")],
        cwd=tmp_path,
        env=env(redirect_uri) if env else app_env(sandbox, redirect_uri),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in app.stdout:
        if line.startswith(LINK):
            return app, line[len(LINK) :].strip(), redirect_uri
    app.wait(10)
    raise AssertionError("app.py printed no sign-in link")


def test_app_refuses_a_forged_callback_then_gets_a_token(sandbox, tmp_path):
    app, link, redirect_uri = start_app(sandbox, tmp_path)
    try:
        assert "code_challenge_method=S256" in link and "state=" in link
        with requests.Session() as attacker:
            attacker.trust_env = False  # straight to 127.0.0.1, never through a proxy
            forged = attacker.get(
                redirect_uri, params={"code": "attackers-code", "state": "guessed"}, timeout=5
            )
            elsewhere = attacker.get(redirect_uri.replace("/goto", "/other"), timeout=5)
        assert forged.status_code == 403
        assert elsewhere.status_code == 404

        callback = scripted_browser.sign_in(link)
        assert callback.status_code == 200
        output = app.communicate(timeout=20)[0]
    finally:
        app.kill()
    assert app.returncode == 0, output
    assert "Refused a callback whose state is not ours (403)" in output
    assert f"Access token for {sandbox.info.user_email} with scopes messaging.v1.send" in output
    assert "expires in" in output
    assert sandbox.info.client_secret not in output


def test_app_stops_with_a_message_when_the_user_clicks_deny(sandbox, tmp_path):
    app, link, _ = start_app(sandbox, tmp_path)
    try:
        scripted_browser.sign_in(link, action="deny")
        output = app.communicate(timeout=20)[0]
    finally:
        app.kill()
    assert app.returncode == 1
    assert "No authorization code: the sign-in was denied" in output


def test_app_says_so_when_the_redirect_uris_port_is_taken(sandbox, tmp_path):
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, str(REPO / "app.py")],
            cwd=tmp_path,
            env=app_env(sandbox, f"http://127.0.0.1:{port}/login/oauth2/code/goto"),
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"Cannot listen on http://127.0.0.1:{port}/login/oauth2/code/goto" in done.stderr
    assert "Traceback" not in done.stderr


CLIENT_ID = "tutorial+client"  # '+' in the id too: RFC 6749 §2.3.1 form-encodes both halves
TOKEN = {
    "access_token": "at-from-the-scripted-server-0123",
    "token_type": "Bearer",
    "expires_in": 3600,
    "scope": "messaging.v1.send",
    "principal": "learner@example.com",
}


def basic_checked(decode, secret: str):
    """A token endpoint's rule: HTTP Basic decoded with ``decode`` must give the client's id
    and ``secret``, else 401 invalid_client (RFC 6749 §5.2)."""

    def respond(seen: Seen) -> Answer:
        value = seen.headers.get("Authorization", "").partition(" ")[2]
        user, _, password = base64.b64decode(value).decode().partition(":")
        if (decode(user), decode(password)) != (CLIENT_ID, secret):
            refusal = {"error": "invalid_client", "error_description": "Wrong client secret."}
            return Answer(401, json.dumps(refusal))
        return Answer(200, json.dumps(TOKEN))

    return respond


def redirect_after_allow(link: str, redirect_uri: str) -> None:
    """The authorization server's redirect after Allow, played by the test: ``code-1`` and the
    state of ``link``, to app.py's listener."""
    state = parse_qs(urlsplit(link).query)["state"][0]
    with requests.Session() as browser:
        browser.trust_env = False
        back = {"code": "code-1", "state": state}
        assert browser.get(redirect_uri, params=back, timeout=5).status_code == 200


def sign_in_against(respond, tmp_path) -> tuple[int, str, list[Seen], str]:
    """app.py against a scripted token endpoint answering by ``respond``; the test plays the
    authorization server's redirect after Allow. Returns the exit code, the output, the token
    requests that arrived and the redirect URI."""
    server = TokenServer(respond=respond)
    try:
        app, link, redirect_uri = start_app(None, tmp_path, partial(server_env, server.url, SECRET))
        try:
            assert link.startswith(server.url + "/oauth/authorize?")
            redirect_after_allow(link, redirect_uri)
            output = app.communicate(timeout=20)[0]
        finally:
            app.kill()
    finally:
        server.close()
    return app.returncode, output, server.seen, redirect_uri


# RFC 6749 §2.3.1 form-decodes id and secret after base64; GoTo's pages show them raw.
@pytest.mark.parametrize("decode", [unquote_plus, str], ids=["rfc-6749-2.3.1", "raw"])
def test_app_gets_a_token_from_another_plain_http_loopback_server(decode, tmp_path):
    code, output, seen, redirect_uri = sign_in_against(basic_checked(decode, SECRET), tmp_path)
    assert code == 0, output
    assert "Access token for learner@example.com with scopes messaging.v1.send" in output
    assert TOKEN["access_token"] not in output
    # The RFC's form first, so the strict server is asked once; the raw form after a refusal.
    assert len(seen) == (1 if decode is unquote_plus else 2)
    body = parse_qs(seen[-1].body)
    assert body["code"] == ["code-1"] and body["redirect_uri"] == [redirect_uri]
    assert "client_secret" not in body and "code_verifier" in body


def test_app_says_what_to_check_when_the_client_secret_is_refused(tmp_path):
    code, output, _, _ = sign_in_against(basic_checked(unquote_plus, "other-secret"), tmp_path)
    assert code == 1
    assert "Token request refused (invalid_client): check OAUTH_CLIENT_ID and" in output
    assert "Traceback" not in output and SECRET not in output


def test_app_refuses_plain_http_to_another_machine(tmp_path):
    env = server_env("http://auth.example.com", SECRET, "http://127.0.0.1:5000/cb")
    done = subprocess.run(
        [sys.executable, str(REPO / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "OAUTH_SERVICE_URL=http://auth.example.com: use https" in done.stderr
    assert "Traceback" not in done.stderr


def test_app_says_so_when_the_token_endpoint_does_not_answer(tmp_path):
    """The sign-in went through, then the server stopped (or .env names the wrong port)."""
    gone = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app, link, redirect_uri = start_app(None, tmp_path, partial(server_env, gone, SECRET))
    try:
        redirect_after_allow(link, redirect_uri)
        output = app.communicate(timeout=30)[0]
    finally:
        app.kill()
    assert app.returncode == 1
    assert f"No answer from {gone}/oauth/token (ConnectionError): is the server up" in output
    assert "Traceback" not in output
