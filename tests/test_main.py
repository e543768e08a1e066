"""`python -m helpers`: the whole flow in one command, driven as a script would drive it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

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
    page = sign_in(first["url"])
    assert "return to the terminal" in page.text and "notebook" not in page.text
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


def start_pasting(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "helpers", "--json", "--no-browser", "--paste", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def asked_for_the_address(proc: subprocess.Popen) -> None:
    for line in proc.stderr:
        if "No callback reached the listener" in line:
            return
    raise AssertionError("the address was never asked for")


def address_the_browser_ended_on(url: str) -> str:
    from tests.scripted_browser import NoListener

    try:
        sign_in(url)
    except NoListener as stuck:
        return stuck.callback_url
    raise AssertionError("the listener should be gone")


def test_after_a_timeout_the_pasted_address_completes_the_sign_in(sandbox_env):
    proc = start_pasting("--timeout", "0.5")
    url = json.loads(proc.stdout.readline())["url"]
    asked_for_the_address(proc)  # the listener has stopped: the browser cannot reach it
    proc.stdin.write(address_the_browser_ended_on(url) + "\n")
    proc.stdin.flush()
    rest = events(proc)
    assert proc.returncode == 0, rest
    assert rest[-1]["event"] == "token" and rest[-1]["principal"] == sandbox_env.info.user_email


def test_ctrl_c_also_asks_and_giving_up_reports_the_interrupt(sandbox_env, ctrl_c):
    import signal

    proc = start_pasting("--timeout", "60")
    json.loads(proc.stdout.readline())
    proc.send_signal(signal.SIGINT)
    asked_for_the_address(proc)
    proc.stdin.write("\n")  # Enter: give up
    proc.stdin.flush()
    rest = events(proc)
    assert proc.returncode == 130 and rest[-1]["error"] == "KeyboardInterrupt"


def test_a_closed_stdin_gives_the_timeout_as_before(sandbox_env):
    proc = start_pasting("--timeout", "0.3")
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait(timeout=30)
    proc.stderr.close()
    last = json.loads(out.splitlines()[-1])
    assert proc.returncode == 1 and last["error"] == "CallbackTimeout"


def test_a_sandbox_that_stops_mid_sign_in_is_reported_not_counted_down(sandbox_env):
    proc = start("--json", "--no-browser", "--timeout", "120")
    assert json.loads(proc.stdout.readline())["event"] == "authorization_url"
    sandbox_env.stop()  # what the learner saw: "127.0.0.1 refused to connect" after Allow
    rest = events(proc)  # within a few looks at /health, not after 120 s
    assert proc.returncode == 1 and rest[-1]["error"] == "SandboxStopped", rest
    assert "stopped answering" in rest[-1]["message"]


def test_the_interrupting_tests_pass_when_pytest_starts_with_ctrl_c_ignored():
    """As under ``nohup pytest &`` or a CI runner that ignores SIGINT: the ctrl_c fixture."""
    import signal

    if os.name != "posix":
        pytest.skip("SIGINT dispositions are POSIX")
    interrupting = [
        "tests/test_ui.py::test_an_interrupt_also_offers_the_paste",
        "tests/test_main.py::test_ctrl_c_also_asks_and_giving_up_reports_the_interrupt",
        "tests/test_callback.py::test_interrupting_wait_frees_the_port",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *interrupting],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "3 passed" in run.stdout
