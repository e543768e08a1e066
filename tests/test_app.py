"""``python app.py``, the whole tutorial in one file, gets a token from a sandbox.

The app runs as a learner runs it, in its own process; the test plays the learner's browser
(``tests/scripted_browser.py``) on the link it prints, after an attacker's forged callback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests import scripted_browser
from tests.ports import free_port

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


def start_app(sandbox, tmp_path) -> tuple[subprocess.Popen, str, str]:
    """app.py against the test's sandbox; returns the process, the link it printed, the URI."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
    app = subprocess.Popen(
        [sys.executable, str(REPO / "app.py")],
        cwd=tmp_path,
        env=app_env(sandbox, redirect_uri),
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
