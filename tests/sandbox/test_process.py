"""The sandbox as a process: restarts, kill -9, ensure_running/stop, robustness, debug page."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers.errors import SandboxError
from helpers.sandbox import ensure_running, recorded_info, serve_in_thread, stop_running
from testing.ports import free_port
from tests.sandbox.flows import TIMEOUT, basic, exchange, get_code, tokens_for, whoami

ROOT = Path(__file__).resolve().parents[2]


def _wait_health(url: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return requests.get(url + "/health", timeout=0.5).json()
        except requests.RequestException:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered /health")


def _kill_from_state(data_dir: Path) -> None:
    try:
        pid = json.loads((data_dir / "sandbox.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, KeyError):
        pass


# --- state survives restarts ---------------------------------------------------------------


def test_restart_on_the_same_data_folder_keeps_tokens_and_secret(tmp_path, listener):
    with serve_in_thread(tmp_path) as first:
        tokens = tokens_for(first, listener)
        secret = first.info.client_secret
    with serve_in_thread(tmp_path) as second:
        assert second.info.client_secret == secret
        assert whoami(second, tokens["access_token"]).status_code == 200
        renewed = requests.post(
            f"{second.url}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers={"Authorization": basic(second.info.client_id, secret)},
            timeout=TIMEOUT,
        )
        assert renewed.status_code == 200


def test_a_sigkilled_sandbox_leaves_a_usable_database(tmp_path, listener):
    data_dir, port = tmp_path / "killed", free_port()
    args = [sys.executable, "-m", "helpers.sandbox", "--data-dir", str(data_dir)]
    args += ["--port", str(port)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_health(url)
        running = recorded_info(data_dir)

        class Remote:  # what the flow helpers need: .url and .info
            info = running

        Remote.url = url
        tokens = tokens_for(Remote, listener)
        unused_code = get_code(Remote, listener)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    with serve_in_thread(data_dir, port=port) as again:
        assert whoami(again, tokens["access_token"]).status_code == 200
        assert exchange(again, unused_code, listener).status_code == 200


# --- ensure_running, the background process and stop ----------------------------------------


@pytest.fixture
def background(tmp_path, monkeypatch):
    data_dir, port = tmp_path / "bg", free_port()
    monkeypatch.setenv("OAUTH_SANDBOX_DIR", str(data_dir))
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", str(port))
    yield data_dir, port
    stop_running(data_dir=data_dir, port=port)
    _kill_from_state(data_dir)


def test_ensure_running_starts_a_background_sandbox_then_reuses_it(background):
    data_dir, port = background
    info = ensure_running()
    assert info.url == f"http://127.0.0.1:{port}"
    assert Path(info.data_dir) == data_dir.resolve()
    pid = requests.get(info.url + "/health", timeout=TIMEOUT).json()["pid"]
    assert pid != os.getpid()
    again = ensure_running()
    assert again == info
    assert requests.get(info.url + "/health", timeout=TIMEOUT).json()["pid"] == pid
    assert oct((data_dir / "sandbox.json").stat().st_mode & 0o777) == "0o600"
    assert stop_running() is True
    with pytest.raises(requests.ConnectionError):
        requests.get(info.url + "/health", timeout=2)
    assert not (data_dir / "sandbox.json").exists()


def test_python_m_helpers_sandbox_stop_stops_it(background):
    data_dir, port = background
    info = ensure_running()
    done = subprocess.run(
        [sys.executable, "-m", "helpers.sandbox", "stop", "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and "Stopped" in done.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(info.url + "/health", timeout=2)


def test_a_stale_state_file_is_replaced(background):
    data_dir, port = background
    data_dir.mkdir(parents=True)
    stale = {"pid": 999_999_999, "url": f"http://127.0.0.1:{port}", "client_id": "x"}
    (data_dir / "sandbox.json").write_text(json.dumps(stale))
    info = ensure_running()
    assert info.client_id != "x"
    assert requests.get(info.url + "/health", timeout=TIMEOUT).ok


def test_a_port_taken_by_another_program_is_a_clear_sandbox_error(background):
    data_dir, port = background
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(SandboxError, match=f"Port {port}"):
            ensure_running(timeout=5)


def test_a_sandbox_of_another_data_folder_on_the_port_is_a_clear_error(background, tmp_path):
    data_dir, port = background
    with (
        serve_in_thread(tmp_path / "someone-else", port=port),
        pytest.raises(SandboxError, match="sandbox of another data folder"),
    ):
        ensure_running(timeout=5)


def test_a_background_sandbox_exits_when_idle(background, monkeypatch):
    data_dir, port = background
    monkeypatch.setenv("OAUTH_SANDBOX_IDLE_EXIT", "1")
    info = ensure_running()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            requests.get(info.url + "/nothing-here-yet", timeout=0.2)  # any request
        except requests.RequestException:
            break
        time.sleep(1.5)  # stay quiet for longer than the idle limit
    else:
        pytest.fail("the idle sandbox did not exit")


def test_importing_helpers_sandbox_does_not_import_oauthlib():
    code = "import sys, helpers.sandbox; print('oauthlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.strip() == "False", done.stderr


# --- the in-process server ----------------------------------------------------------------


def test_stop_is_prompt_and_frees_the_port(tmp_path):
    sandbox = serve_in_thread(tmp_path)
    port = int(sandbox.url.rsplit(":", 1)[1])
    requests.get(sandbox.url + "/health", timeout=TIMEOUT)
    started = time.perf_counter()
    sandbox.stop()
    assert time.perf_counter() - started < 0.5
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_keep_alive_requests_do_not_pay_the_nagle_delay(sandbox):
    with requests.Session() as session:
        session.get(sandbox.url + "/health", timeout=TIMEOUT)
        started = time.perf_counter()
        for _ in range(20):
            assert session.get(sandbox.url + "/health", timeout=TIMEOUT).ok
        assert (time.perf_counter() - started) / 20 < 0.02


def test_health_says_which_sandbox_this_is(sandbox):
    body = requests.get(sandbox.url + "/health", timeout=TIMEOUT).json()
    assert body["status"] == "ok"
    assert body["service"] == "goto-oauth-sandbox"
    assert body["client_id"] == sandbox.info.client_id
    assert "client_secret" not in body


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/oauth/authorize?client_id=%ZZ&x=\x7f", {}),
        ("GET", "/oauth/authorize?" + "a=1&" * 2000, {}),
        (
            "POST",
            "/oauth/token",
            {"data": b"\xff\xfe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        ),
        ("POST", "/oauth/token", {"data": "grant_type=authorization_code&code=%G0"}),
        ("POST", "/oauth/login", {"data": b"\xff", "headers": {"Cookie": "oauth_sandbox_1=\x01"}}),
        ("POST", "/oauth/consent", {"data": "csrf_token=x", "headers": {"Cookie": '"bad'}}),
        ("POST", "/sandbox/token-lifetimes", {"json": {"access_token": "soon"}}),
        ("POST", "/sandbox/token-lifetimes", {"json": {"nonsense": 1}}),
        (
            "POST",
            "/sandbox/fail-next-token-request",
            {"data": "{", "headers": {"Content-Type": "application/json"}},
        ),
        ("GET", "/oauth/consent?txn=nothing", {}),
        ("POST", "/messaging/v1/messages", {"headers": {"Authorization": "Bearer"}}),
        ("DELETE", "/oauth/token", {}),
    ],
)
def test_bad_input_never_gets_a_500(sandbox, method, path, kwargs):
    answer = requests.request(method, sandbox.url + path, timeout=TIMEOUT, **kwargs)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])


def test_debug_page_lists_requests_with_secrets_redacted(sandbox, listener):
    tokens = tokens_for(sandbox, listener)
    requests.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic(sandbox.info.client_id, sandbox.info.client_secret)},
        timeout=TIMEOUT,
    )
    page = requests.get(sandbox.info.debug_url, timeout=TIMEOUT)
    assert page.status_code == 200
    text = page.text
    assert "/oauth/token" in text and "/oauth/authorize" in text
    for secret in (
        tokens["access_token"],
        tokens["refresh_token"],
        sandbox.info.client_secret,
        sandbox.info.user_password,
        basic(sandbox.info.client_id, sandbox.info.client_secret).split()[1],
    ):
        assert secret not in text
    assert "…" + tokens["access_token"][-4:] in text
    assert tokens["access_token"][:4] + "…" not in text  # one convention: helpers.redact's


def test_debug_page_masks_every_cookie_not_just_the_first(sandbox):
    # On 127.0.0.1 the browser sends other local apps' cookies too: Jupyter's login among them.
    jupyter = "2|1:0|10:1700000000|12:username-abc|44:ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVm"
    xsrf = "2|5d1f7a8b|0c6ef0d4a7b2c9e1f3a5d7b9c1e3f5a7|1700000000"
    cookies = (
        f"oauth_sandbox_1=firstcookievalue123456; username-127-0-0-1-8888={jupyter}; _xsrf={xsrf}"
    )
    requests.get(sandbox.url + "/health", headers={"Cookie": cookies}, timeout=TIMEOUT)
    text = requests.get(sandbox.info.debug_url, timeout=TIMEOUT).text
    for value in ("firstcookievalue123456", jupyter, xsrf):
        assert value not in text
        assert value[:8] not in text
    assert "…" + jupyter[-4:] in text


def test_the_request_log_keeps_only_the_last_200(sandbox):
    with requests.Session() as session:
        for _ in range(210):
            session.get(sandbox.url + "/health", timeout=TIMEOUT)
    assert len(sandbox.app.log) == 200


def test_stop_with_nothing_running_says_so(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.sandbox",
            "stop",
            "--data-dir",
            str(tmp_path),
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0 and "No sandbox" in done.stdout


def test_the_fault_client_names_an_unreachable_sandbox(tmp_path):
    from helpers.sandbox import faults

    with pytest.raises(SandboxError, match="Could not reach"):
        faults(f"http://127.0.0.1:{free_port()}").fail_next_token_request()


def test_options_set_users_lifetimes_and_demo_credentials(tmp_path, listener):
    with serve_in_thread(
        tmp_path,
        client_id="my-client",
        client_secret="s3cret+/=",
        user_email="teacher@example.com",
        user_password="pw",
        users={"pupil@example.com": "pupil-pw"},
        access_token_lifetime=120,
    ) as sandbox:
        assert sandbox.info.client_id == "my-client"
        assert tokens_for(sandbox, listener)["principal"] == "teacher@example.com"
        pupil = tokens_for(sandbox, listener, email="pupil@example.com", password="pupil-pw")
        assert pupil["principal"] == "pupil@example.com"
        assert pupil["expires_in"] == 120


def test_a_bad_port_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", "eighty")
    with pytest.raises(SandboxError, match="OAUTH_SANDBOX_PORT"):
        ensure_running()


@pytest.mark.parametrize("value", ["70000", "-1", "0"])
def test_a_port_variable_out_of_range_is_a_clear_error(monkeypatch, tmp_path, value):
    monkeypatch.setenv("OAUTH_SANDBOX_DIR", str(tmp_path))
    monkeypatch.setenv("OAUTH_SANDBOX_PORT", value)
    with pytest.raises(SandboxError, match="OAUTH_SANDBOX_PORT"):
        ensure_running()


def test_a_port_argument_out_of_range_is_a_clear_error(tmp_path):
    with pytest.raises(SandboxError, match="port=70000"):
        ensure_running(data_dir=tmp_path, port=70000)


@pytest.mark.parametrize("value", ["soon", "nan", "-5", "inf"])
def test_a_bad_idle_exit_variable_is_a_clear_error(monkeypatch, tmp_path, value):
    monkeypatch.setenv("OAUTH_SANDBOX_IDLE_EXIT", value)
    with pytest.raises(SandboxError, match="OAUTH_SANDBOX_IDLE_EXIT"):
        ensure_running(data_dir=tmp_path, port=free_port())


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--port", "70000"], {}, "--port"),
        (["--port", "http"], {}, "--port"),
        (["--idle-exit", "nan"], {}, "--idle-exit"),
        ([], {"OAUTH_SANDBOX_PORT": "70000"}, "OAUTH_SANDBOX_PORT"),
        (["stop"], {"OAUTH_SANDBOX_PORT": "99999"}, "OAUTH_SANDBOX_PORT"),
    ],
)
def test_the_command_line_names_a_bad_option_without_a_traceback(tmp_path, args, env, named):
    done = subprocess.run(
        [sys.executable, "-m", "helpers.sandbox", "--data-dir", str(tmp_path), *args],
        cwd=ROOT,
        env={**os.environ, "OAUTH_SANDBOX_PORT": "", **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr


def test_a_sandbox_started_with_sigint_ignored_still_stops_on_sigint(tmp_path):
    # As a script's ``cmd &`` starts it, and as JupyterHub stops a service: SIGINT first.
    # The client secret comes from the environment, where `ps` does not show it.
    port = free_port()
    env = {**os.environ, "OAUTH_SANDBOX_CLIENT_SECRET": "from-the-environment"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "helpers.sandbox", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        _wait_health(f"http://127.0.0.1:{port}")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "client secret  from-the-environment" in out
    assert "Ctrl+C (SIGINT)" in err
