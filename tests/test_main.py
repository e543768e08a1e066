"""`python -m helpers`: the whole flow in one command, driven as a script would drive it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.scripted_browser import sign_in

ROOT = Path(__file__).resolve().parents[1]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", *args],
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def events(proc: subprocess.Popen) -> list[dict]:
    out, _ = proc.communicate(timeout=30)
    return [json.loads(line) for line in out.splitlines()]


def test_json_no_browser_completes_a_sign_in_driven_by_a_scripted_browser(sandbox_env):
    proc = start("--json", "--no-browser", "--timeout", "20")
    first = json.loads(proc.stdout.readline())
    assert first["event"] == "authorization_url"
    sign_in(first["url"])
    rest = events(proc)
    assert proc.returncode == 0
    assert [e["event"] for e in rest] == ["token"]
    token = rest[0]
    assert token["principal"] == sandbox_env.info.user_email
    assert token["scope"] == "messaging.v1.send" and 3500 < token["expires_in"] <= 3600
    saved = Path(os.environ["OAUTH_TOKEN_FILE"])
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    access_token = json.loads(saved.read_text())["access_token"]
    assert access_token not in json.dumps(token) and token["access_token"].startswith("…")


def test_the_browser_is_opened_through_the_standard_browser_variable(sandbox_env, monkeypatch):
    monkeypatch.setenv("BROWSER", f"{sys.executable} {ROOT / 'tests' / 'scripted_browser.py'} %s")
    proc = start("--timeout", "20")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Access token received for learner@example.com" in out
    assert (
        json.loads(Path(os.environ["OAUTH_TOKEN_FILE"]).read_text())["access_token"]
        not in out + err
    )


def test_denied_consent_ends_in_a_named_error_and_non_zero_status(sandbox_env, monkeypatch):
    proc = start("--json", "--no-browser", "--timeout", "20")
    sign_in(json.loads(proc.stdout.readline())["url"], action="deny")
    rest = events(proc)
    assert proc.returncode == 1
    assert rest[-1]["event"] == "error" and rest[-1]["error"] == "AuthorizationDenied"
    assert "refused" in rest[-1]["message"]


def test_no_callback_before_the_timeout_is_a_named_error(sandbox_env):
    proc = start("--json", "--no-browser", "--timeout", "0.5")
    rest = events(proc)
    assert proc.returncode == 1
    assert rest[-1] == {**rest[-1], "event": "error", "error": "CallbackTimeout"}


def test_a_broken_configuration_is_reported_not_a_traceback(clean_env, monkeypatch):
    monkeypatch.setenv("OAUTH_SERVICE_URL", "http://auth.example.com")
    proc = start("--json", "--no-browser")
    rest = events(proc)
    assert proc.returncode == 1 and rest[-1]["error"] == "ConfigError"
    assert "OAUTH_CLIENT_ID" in rest[-1]["message"]
