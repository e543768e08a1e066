"""A real JupyterHub on loopback from classroom/jupyterhub_config.py, for tests and benchmarks.

    >>> with start_hub(tmp_path, learners=("alice", "bob"), instructors=("teacher",)) as hub:
    ...     hub.start_server("alice")

Every port is free and every file in ``work``; a test-only admin service (its token in
``Hub.admin_token``) starts servers and makes tokens. ``admins``: hub admins, who sign in with
``ADMIN_PASSWORD``. ``extra_env``: more variables for the learners' servers.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from testing.ports import free_ports

ROOT = Path(__file__).resolve().parents[1]
CLASSROOM = ROOT / "classroom"
PROXY = CLASSROOM / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_BIN = Path(sys.executable).parent / "jupyterhub"
PASSWORD = "class-password"
ADMIN_PASSWORD = "admin-password-" + "x" * 17  # SharedPasswordAuthenticator wants 32 or more


@dataclass
class Hub:
    url: str  # the public URL, no trailing slash
    state: Path
    admin_token: str = field(repr=False)
    log: Path
    sandbox_port: int
    router_port: int

    @property
    def router_url(self) -> str:  # the kernels' back channel to the class callback service
        return f"http://127.0.0.1:{self.router_port}/services/oauth-callback/"

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return requests.request(
            method, f"{self.url}/hub/api{path}", headers=headers, timeout=30, **kw
        )

    def class_secret(self) -> bytes:
        return (self.state / "class-secret").read_text().strip().encode()

    def client_secret(self) -> str:
        return (self.state / "client-secret").read_text().strip()

    def start_server(self, name: str, timeout: float = 90.0) -> None:
        """Start a learner's server (admin API) and wait until it answers."""
        answer = self.api("POST", f"/users/{name}/server")
        assert answer.status_code in (201, 202, 400), answer.text  # 400: already running
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"/users/{name}").json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"{name}'s server did not start; see {self.log}")

    def user_token(self, name: str) -> str:
        """A hub token of ``name`` (what JUPYTERHUB_API_TOKEN is in their kernel)."""
        answer = self.api("POST", f"/users/{name}/tokens", json={"note": "test kernel"})
        assert answer.status_code in (200, 201), answer.text
        return answer.json()["token"]

    def session(self, name: str, password: str = PASSWORD) -> requests.Session:
        """A browser-like session signed in to the hub as ``name`` (login form + _xsrf)."""
        browser = requests.Session()
        browser.trust_env = False
        page = browser.get(f"{self.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            f"{self.url}/hub/login",
            data={"username": name, "password": password, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text[:300]
        return browser


def _wait_healthy(
    url: str, proc: subprocess.Popen, log: Path, also: str | None, timeout: float = 90.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"jupyterhub exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            )
        try:
            # The proxy answers 404 for a moment after it starts: wait for the hub's own 200.
            healthy = requests.get(f"{url}/hub/health", timeout=2).status_code == 200
            if healthy and (also is None or requests.get(url + also, timeout=2).ok):
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"jupyterhub did not become healthy:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def start_hub(
    work: Path, *, learners, instructors, admins=(), extra_env: dict[str, str] | None = None
) -> Iterator[Hub]:
    """Start the class's hub; stop it (and all it started) afterwards."""
    public, hub_port, api_port, sandbox_port, router_port = free_ports(5)
    token = secrets.token_hex(32)
    # The teacher's config, unchanged, plus a test-only admin service to start servers.
    config = work / "test_config.py"
    config.write_text(
        f"load_subconfig({str(CLASSROOM / 'jupyterhub_config.py')!r})\n"
        "c.JupyterHub.services.append({'name': 'test-admin', 'api_token': %r})\n"
        "c.JupyterHub.load_roles.append({'name': 'test-admin', 'services': ['test-admin'], "
        "'scopes': ['admin:users', 'admin:servers', 'tokens', 'read:users']})\n"
        % token
        + f"c.Spawner.environment.update({dict(extra_env or {})!r})\n"
        + f"c.Authenticator.admin_users = {set(admins)!r}\n"
        + f"c.SharedPasswordAuthenticator.admin_password = {ADMIN_PASSWORD!r}\n"
    )
    env = dict(
        os.environ,
        CLASSROOM_PUBLIC_URL=f"http://127.0.0.1:{public}",
        CLASSROOM_LEARNERS=",".join(learners),
        CLASSROOM_INSTRUCTORS=",".join(instructors),
        CLASSROOM_PASSWORD=PASSWORD,
        CLASSROOM_STATE_DIR=str(work / "state"),
        CLASSROOM_HUB_PORT=str(hub_port),
        CLASSROOM_PROXY_API_PORT=str(api_port),
        CLASSROOM_SANDBOX_PORT=str(sandbox_port),
        CLASSROOM_ROUTER_PORT=str(router_port),
    )
    for name in list(env):
        if name.startswith(("OAUTH_", "GOTO_")):
            env.pop(name)
    url = f"http://127.0.0.1:{public}"
    with run_hub(config, env, work, url, work / "state", also="/services/oauth-sandbox/") as log:
        yield Hub(url, work / "state", token, log, sandbox_port, router_port)


@contextlib.contextmanager
def run_hub(
    config: Path, env: dict[str, str], work: Path, url: str, state: Path, also: str | None = None
) -> Iterator[Path]:
    """``jupyterhub -f config`` in ``work``, until healthy at ``url`` (and ``also`` answers);
    yields its log. Stopped afterwards, with all it started (``state``: its pid files)."""
    log = work / "jupyterhub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(HUB_BIN), "-f", str(config)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_healthy(url, proc, log, also)
        yield log
    finally:
        proc.send_signal(signal.SIGTERM)  # the hub stops the proxy, the services and servers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _stop_leftover_proxy(state / "jupyterhub-proxy.pid")


def _stop_leftover_proxy(pid_file: Path) -> None:
    """The proxy runs in its own session: if the hub died before stopping it, stop it here."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass  # no pid file (the hub removed it on a clean stop), or no such process
