"""Other clients against the sandbox, unchanged: it is a standards-following server with GoTo's paths.

The Node.js tutorial's own client library, simple-oauth2, with Express listening on the redirect
URI (``bench/node/app.js``, which the benchmark also times), signs in with only the service URL
and the client's values set, exactly as the tutorial configures it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from testing.ports import free_port
from testing.scripted_browser import sign_in

NODE_APP = Path(__file__).resolve().parents[1] / "bench" / "node"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI installs it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture
def node_app(sandbox):
    if shutil.which("node") is None:
        _unavailable("Node.js is not installed")
    if not (NODE_APP / "node_modules" / "simple-oauth2").is_dir():
        _unavailable("the Node.js app's packages are missing: npm ci --prefix bench/node")
    env = {
        **os.environ,
        "OAUTH_SERVICE_URL": sandbox.url,
        "OAUTH_CLIENT_ID": sandbox.info.client_id,
        "OAUTH_CLIENT_SECRET": sandbox.info.client_secret,
        "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto",
        "OAUTH_SCOPES": "messaging.v1.send",
    }
    proc = subprocess.Popen(
        ["node", "app.js"],
        cwd=NODE_APP,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        assert proc.stdout.readline().strip() == "READY"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _start_sign_in(proc) -> str:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    assert line.startswith("URL "), line
    return line[4:]


def test_the_node_tutorials_client_signs_in_against_the_sandbox(node_app, sandbox):
    sign_in(_start_sign_in(node_app))
    assert node_app.stdout.readline().strip() == f"TOKEN {sandbox.info.user_email}"


def test_the_node_tutorials_client_sees_a_denial(node_app):
    sign_in(_start_sign_in(node_app), action="deny")
    assert node_app.stdout.readline().strip() == "ERROR access_denied"
