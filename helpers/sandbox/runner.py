"""Running a sandbox: bind it (``build``), serve it from a thread (``RunningSandbox``), and the
state file through which ``ensure_running`` finds a background one."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from . import defaults
from . import validator as policy
from .defaults import STATE_FILE
from .server import Demo, SandboxApp
from .transport import SandboxHTTPServer

log = logging.getLogger("helpers.sandbox")


def write_state_file(app: SandboxApp) -> Path:
    """Record pid, URL, demo credentials and the control token (mode 0600) so that
    ``ensure_running`` can find us and only our owner can control us."""
    path = app.data_dir / STATE_FILE
    data = {
        "pid": os.getpid(),
        "url": app.url,
        "data_dir": str(app.data_dir),
        "client_id": app.demo.client_id,
        "client_secret": app.demo.client_secret,
        "user_email": app.demo.user_email,
        "user_password": app.demo.user_password,
        "started_at": app.started_at,
        "control_token": app.control_token,
        # How browsers reach it, when through a proxy (ensure_running restarts it otherwise).
        "public_url": app.front.public_url if app.front else "",
        "redirect_uris": list(app.store.get_client(app.demo.client_id).redirect_uris),
    }
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # O_EXCL below: never write through a planted file or link
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
    return path


def remove_state_file(app: SandboxApp) -> None:
    path = app.data_dir / STATE_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("pid") == os.getpid() and data.get("url") == app.url:
            path.unlink()
    except (OSError, ValueError):
        pass


def make_server(
    data_dir: str | os.PathLike,
    *,
    host: str = defaults.DEFAULT_HOST,
    port: int = 0,
    demo: Demo,
    settings: policy.Settings,
    users: dict[str, str] | None = None,
) -> SandboxHTTPServer:
    """Bind the sandbox (``port=0``: any free port); call ``serve_forever`` to run it."""
    app = SandboxApp(data_dir, demo=demo, settings=settings, users=users)
    httpd = SandboxHTTPServer((host, port), app)
    bound_host, bound_port = httpd.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    if shown in ("0.0.0.0", "[::]"):  # noqa: S104 - advertise loopback for all-interfaces
        shown = "127.0.0.1"
    app.url = f"http://{shown}:{bound_port}"
    app.allowed_hosts = allowed_hosts(str(bound_host), bound_port)
    return httpd


def allowed_hosts(bound_host: str, port: int) -> frozenset[str]:
    """The Host headers that name this sandbox: its loopback names, and the address it is
    bound to (an instructor's ``--host 192.168.1.5``), each with the port."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if bound_host not in ("0.0.0.0", "::"):  # noqa: S104 - all interfaces: no single name
        names.add(f"[{bound_host}]" if ":" in bound_host else bound_host)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # the default port may be left out
        hosts |= names
    return frozenset(hosts)


def build(
    data_dir: str | os.PathLike,
    *,
    host: str = defaults.DEFAULT_HOST,
    port: int = 0,
    client_id: str | None = None,
    client_secret: str | None = None,
    user_email: str | None = None,
    user_password: str | None = None,
    access_token_lifetime: int = defaults.ACCESS_TOKEN_LIFETIME,
    refresh_token_lifetime: int = defaults.REFRESH_TOKEN_LIFETIME,
    code_lifetime: int = defaults.CODE_LIFETIME,
    refresh_mode: str = defaults.REFRESH_MODE,
    users: dict[str, str] | None = None,
) -> SandboxHTTPServer:
    """A bound, not yet serving, sandbox with the demo client and user in place."""
    if refresh_mode not in defaults.REFRESH_MODES:
        raise ValueError("refresh_mode is 'goto' or 'rotate'")
    data_dir = Path(data_dir)
    demo = Demo(
        client_id=client_id or defaults.DEMO_CLIENT_ID,
        client_secret=client_secret or defaults.demo_client_secret(data_dir),
        user_email=user_email or defaults.DEMO_USER_EMAIL,
        user_password=user_password or defaults.DEMO_USER_PASSWORD,
    )
    settings = policy.Settings(
        access_token_lifetime=int(access_token_lifetime),
        refresh_token_lifetime=int(refresh_token_lifetime),
        code_lifetime=int(code_lifetime),
        refresh_mode=refresh_mode,
    )
    return make_server(data_dir, host=host, port=port, demo=demo, settings=settings, users=users)


class RunningSandbox:
    """A sandbox serving from a daemon thread of this process; a context manager.

    Its fault switches are ``.switches`` (see ``switches.py``).
    """

    def __init__(
        self, httpd: SandboxHTTPServer, *, idle_exit: float | None = None, state_file=True
    ) -> None:
        from .process import SandboxInfo

        self.httpd = httpd
        self.app = httpd.app
        self.url = self.app.url
        demo = self.app.demo
        self.info = SandboxInfo(
            url=self.url,
            client_id=demo.client_id,
            client_secret=demo.client_secret,
            user_email=demo.user_email,
            user_password=demo.user_password,
            data_dir=str(self.app.data_dir),
            control_token=self.app.control_token,
        )
        self._idle_exit = idle_exit
        self._state_file = state_file
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._done = False
        self._thread: threading.Thread | None = None
        self.app.on_shutdown = self.stop

    def start(self) -> RunningSandbox:
        if self._state_file:
            write_state_file(self.app)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth-sandbox-{self.url}",
            daemon=True,
        )
        self._thread.start()
        if self._idle_exit:
            threading.Thread(target=self._watch_idle, daemon=True).start()
        return self

    def _watch_idle(self) -> None:
        step = max(0.05, min(30.0, self._idle_exit / 20))
        while not self._stopped.wait(step):
            if time.monotonic() - self.app.last_activity > self._idle_exit:
                self._stopped.set()  # the main thread (or whoever waits) finishes the stop
                self.stop(f"no request for {self._idle_exit:g} s (idle exit)")
                return

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (by ``stop``, /sandbox/shutdown or idle exit)."""
        return self._stopped.wait(timeout)

    def stop(self, reason: str = "stopped by its program") -> None:
        """Stop serving, free the port, remove the state file. Safe to call twice.

        ``reason`` goes to the log ("stopping: ..."), so that its log says why it stopped.
        """
        self._stopped.set()  # wakes wait() at once
        with self._stop_lock:  # a second caller returns only once the first one is done
            if self._done:
                return
            log.info("stopping: %s", reason)
            if self._thread is not None and self._thread is not threading.current_thread():
                self.httpd.shutdown()
                self._thread.join(timeout=5)
            self.httpd.server_close()
            if self._state_file:
                remove_state_file(self.app)
            self.app.store.close()
            self._done = True

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._done else "running"
        return f"RunningSandbox({self.url!r}, {state})"

    @property
    def switches(self):
        """The fault switches: ``running.switches.expire_access_tokens()``."""
        return self.app.switches

    def add_user(self, email: str, password: str, display_name: str | None = None) -> None:
        self.app.add_user(email, password, display_name)

    def add_client(self, client_id, client_secret, *, redirect_uris, scopes, name=None) -> None:
        self.app.add_client(
            client_id, client_secret, redirect_uris=redirect_uris, scopes=scopes, name=name
        )
