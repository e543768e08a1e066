"""What only the sandbox's owner may do: read /debug/requests, stop it, flip its fault switches
(security review findings 2 and 9; first-run issue: ``stop`` stops only its own folder's sandbox).

The owner is whoever can read the sandbox's state file (mode 0600): it holds a random control
token. Any other local program, a web page or another user's notebook gets a clear 403.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from helpers.errors import SandboxError
from helpers.sandbox import faults, serve_in_thread, stop_running
from testing.ports import free_port
from tests.sandbox.flows import authorize_url, tokens_for

from .conftest import PATH

TIMEOUT = 10
ROOT = Path(__file__).resolve().parents[2]
REDIRECT = f"http://127.0.0.1:5000{PATH}"


@pytest.fixture
def box(tmp_path):
    with serve_in_thread(tmp_path / "box") as sandbox:
        yield sandbox


# --- finding 2: /debug/requests ---------------------------------------------------------------


def test_the_request_log_is_refused_without_the_owners_key(box):
    requests.get(authorize_url(box, REDIRECT, state="the-learners-state-value"), timeout=TIMEOUT)
    answer = requests.get(box.url + "/debug/requests", timeout=TIMEOUT)
    assert answer.status_code == 403
    assert "the-learners-state-value" not in answer.text
    assert "/oauth/authorize" not in answer.text
    assert "debug-link" in answer.text  # says how the owner opens it
    wrong = requests.get(box.url + "/debug/requests?key=guess", timeout=TIMEOUT)
    assert wrong.status_code == 403


def test_the_owner_reads_it_with_state_and_redirect_uri_query_masked(box, standin_listener):
    state = "the-learners-state-value-1234"
    requests.get(authorize_url(box, REDIRECT, state=state), timeout=TIMEOUT)
    tokens_for(box, standin_listener)
    browser = requests.Session()
    answer = browser.get(box.info.debug_url, timeout=TIMEOUT)
    assert answer.status_code == 200
    # The key leaves the address bar at once: the page itself is at the bare path.
    assert urlsplit(answer.url).query == ""
    assert "/oauth/authorize" in answer.text and "/oauth/token" in answer.text
    assert state not in answer.text and "…1234" in answer.text
    # The Location back to the callback carries a code and the state: both masked.
    for location in (h for h in answer.text.split() if "code=" in h and PATH in h):
        values = parse_qs(urlsplit(location).query)
        assert all(v[0].startswith("…") for k, v in values.items() if k in ("code", "state"))
    # A browser given the page once keeps reading it (a cookie of its own, not the key).
    again = browser.get(box.url + "/debug/requests", timeout=TIMEOUT)
    assert again.status_code == 200
    assert box.info.control_token not in json.dumps(dict(browser.cookies))


def test_the_notebooks_link_is_the_owners_and_a_stranger_gets_the_bare_page(box, tmp_path):
    from helpers.sandbox import debug_url

    assert debug_url(box.url) == box.info.debug_url
    assert requests.get(debug_url(box.url), timeout=TIMEOUT).status_code == 200
    (Path(box.info.data_dir) / "sandbox.json").rename(tmp_path / "moved.json")  # not readable
    assert debug_url(box.url) == box.url + "/debug/requests"


def test_the_control_token_is_not_in_health_or_any_page(box):
    pages = [requests.get(box.url + p, timeout=TIMEOUT).text for p in ("/health", "/")]
    pages.append(requests.get(box.info.debug_url, timeout=TIMEOUT).text)
    assert all(box.info.control_token not in page for page in pages)
    assert box.info.control_token not in repr(box.info)


# --- finding 9: control endpoints --------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "body"),
    [
        ("shutdown", {}),
        ("fail-next-token-request", {"count": 5}),
        ("expire-access-tokens", {}),
        ("token-lifetimes", {"access_token": 1}),
        ("reset", {}),
    ],
)
def test_a_local_program_without_the_token_flips_nothing(box, switch, body):
    answer = requests.post(f"{box.url}/sandbox/{switch}", json=body, timeout=TIMEOUT)
    assert answer.status_code == 403
    assert "control token" in answer.json()["error_description"]
    wrong = requests.post(
        f"{box.url}/sandbox/{switch}",
        json=body,
        headers={"X-Sandbox-Control": "guess"},
        timeout=TIMEOUT,
    )
    assert wrong.status_code == 403
    assert requests.get(box.url + "/health", timeout=TIMEOUT).ok
    assert box.app.settings.access_token_lifetime != 1


def test_the_owner_flips_switches_with_faults_as_before(box):
    # faults(url) finds the token itself, in the state file the owner can read.
    assert faults(box.url).set_token_lifetimes(access_token=7)["access_token"] == 7
    assert faults(box.url).reset()["access_token"] == 3600


def test_a_sandbox_whose_state_file_is_unreadable_refuses_with_advice(box, tmp_path):
    (Path(box.info.data_dir) / "sandbox.json").rename(tmp_path / "moved.json")
    with pytest.raises(SandboxError, match="control token"):
        faults(box.url).expire_access_tokens()


# --- first-run issue: stop stops only its own folder's sandbox ------------------------------


def test_stop_leaves_another_folders_sandbox_running_and_says_whose_it_is(tmp_path):
    port = free_port()
    with serve_in_thread(tmp_path / "theirs", port=port) as theirs:
        with pytest.raises(SandboxError) as refused:
            stop_running(data_dir=tmp_path / "mine", port=port)
        assert str(Path(theirs.info.data_dir)) in str(refused.value)
        assert requests.get(theirs.url + "/health", timeout=TIMEOUT).ok
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "helpers.sandbox",
                "stop",
                "--data-dir",
                str(tmp_path / "mine"),
                "--port",
                str(port),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert theirs.info.data_dir in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert requests.get(theirs.url + "/health", timeout=TIMEOUT).ok


def test_stop_stops_its_own_and_the_log_says_who_asked(tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="helpers.sandbox")
    running = serve_in_thread(tmp_path / "mine")
    assert stop_running(data_dir=tmp_path / "mine", port=free_port()) is True
    assert running.wait(5)
    said = [r.getMessage() for r in caplog.records if "stopping" in r.getMessage()]
    assert said and "shutdown requested" in said[0] and "pid" in said[0], said
