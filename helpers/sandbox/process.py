"""The background sandbox as a process: find it, start it (``control.stop_running`` stops it).

    >>> from helpers.sandbox import process
    >>> info = process.ensure_running()     # reuses this data folder's sandbox, or starts one

A background sandbox is a detached ``python -m helpers.sandbox`` process; its state file
(``sandbox.json`` in its data folder, mode 0600) says where it listens, its demo credentials
and its control token, so whoever can read the file, and only they, can use and control it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SandboxError
from ..loopback import open_direct
from ..redact import mask
from .defaults import (
    DEFAULT_IDLE_EXIT,
    DEFAULT_PORT,
    LOG_FILE,
    SERVICE,
    STATE_FILE,
    debug_key,
    default_data_dir,
    private_dir,
    private_file,
)


@dataclass(frozen=True)
class SandboxInfo:
    """Where a running sandbox is, and its demo client and user."""

    url: str  # e.g. "http://127.0.0.1:8765" (no trailing slash)
    client_id: str
    client_secret: str = field(repr=False)
    user_email: str = ""
    user_password: str = field(default="", repr=False)
    data_dir: str = ""
    control_token: str = field(default="", repr=False)  # only the owner's: see Faults

    def __repr__(self) -> str:
        return (
            f"SandboxInfo(url={self.url!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, user_email={self.user_email!r}, "
            f"user_password='…', data_dir={self.data_dir!r})"
        )

    __str__ = __repr__

    @property
    def debug_url(self) -> str:
        """The owner's link to ``/debug/requests`` (its key is swapped for a cookie at once)."""
        return f"{self.url}/debug/requests?key={debug_key(self.control_token)}"


# --- finding and starting the background sandbox --------------------------------------------


def _resolve(data_dir, port) -> tuple[Path, int]:
    from ..config import setting, setting_path

    if data_dir is None:
        data_dir = setting_path("OAUTH_SANDBOX_DIR") or default_data_dir()
    if port is None:
        raw = setting("OAUTH_SANDBOX_PORT")
        try:
            port = int(raw) if raw else DEFAULT_PORT
        except ValueError:
            port = -1
        if not 1 <= port <= 65535:
            raise SandboxError(
                f"OAUTH_SANDBOX_PORT={raw!r} is not a port number: set it to one from 1 to "
                "65535, like 8765."
            )
    else:
        given = port
        try:
            port = int(port)
        except (TypeError, ValueError):
            port = -1
        if not 0 <= port <= 65535:
            raise SandboxError(f"port={given!r} is not a port number: use one from 1 to 65535.")
    return Path(data_dir).expanduser().resolve(), port


def _idle_exit() -> float:
    from ..config import setting

    raw = setting("OAUTH_SANDBOX_IDLE_EXIT")
    if not raw:
        return DEFAULT_IDLE_EXIT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SandboxError(
            f"OAUTH_SANDBOX_IDLE_EXIT={raw!r} is not a number of seconds: set it to one like "
            f"{DEFAULT_IDLE_EXIT} (0: never stop), or unset it."
        )
    return seconds


def _get_json(url: str, timeout: float = 1.0) -> dict | None:
    """GET a JSON object, or None when nothing (or nothing sensible) answers."""
    try:
        with open_direct(url, timeout=timeout) as resp:
            data = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _health(port: int, timeout: float = 1.0) -> dict | None:
    return _get_json(f"http://127.0.0.1:{port}/health", timeout)


def _read_state(data_dir: Path) -> dict | None:
    try:
        data = json.loads((data_dir / STATE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _same_dir(a: str | None, b: Path) -> bool:
    try:
        return a is not None and Path(a).resolve() == b.resolve()
    except OSError:
        return False


def _info_if_ours(data_dir: Path, port: int, health: dict | None) -> SandboxInfo | None:
    """The running sandbox's info, if ``health`` shows ours on this data folder."""
    if not health or health.get("service") != SERVICE:
        return None
    if not _same_dir(health.get("data_dir"), data_dir):
        return None
    state = _read_state(data_dir)
    if not state or state.get("pid") != health.get("pid"):
        return None
    return _info_from(state, f"http://127.0.0.1:{port}", data_dir)


def _info_from(state: dict, url: str, data_dir: Path) -> SandboxInfo:
    return SandboxInfo(
        url=url,
        client_id=state["client_id"],
        client_secret=state["client_secret"],
        user_email=state["user_email"],
        user_password=state["user_password"],
        data_dir=str(data_dir),
        control_token=state.get("control_token", ""),
    )


def recorded_info(data_dir) -> SandboxInfo | None:
    """What the sandbox running on ``data_dir`` recorded about itself (its state file), or None
    when none has (e.g. to reach one started as ``python -m helpers.sandbox`` elsewhere)."""
    state = _read_state(Path(data_dir))
    if not state or "url" not in state:
        return None
    return _info_from(state, state["url"], Path(data_dir))


def next_free_port(after: int, tries: int = 100) -> int | None:
    """The first port after ``after`` where nothing listens on 127.0.0.1, or None."""
    for port in range(after + 1, min(after + 1 + tries, 65536)):
        if _port_free(port) and _health(port, timeout=0.2) is None:
            return port
    return None


def _use_port_advice(port: int) -> str:
    """The one step that moves this checkout's sandbox to the next free port."""
    free = next_free_port(port)
    if free is None:
        return "Set OAUTH_SANDBOX_PORT (in .env) to a free port."
    from ..config import env_file_path

    env_file = env_file_path() or Path.cwd() / ".env"
    return (
        f"Port {free} is free: add the line OAUTH_SANDBOX_PORT={free} to {env_file} (or run "
        "`python -m helpers.sandbox use-free-port`, which does it), then run this again."
    )


def _not_ours(port: int, health: dict | None, data_dir: Path | None = None) -> SandboxError:
    if health and health.get("service") == SERVICE:
        where = health.get("data_dir")
        mine = f", not this checkout's ({data_dir})" if data_dir else ""
        return SandboxError(
            f"Port {port} is used by the sandbox of another data folder ({where}){mine}. "
            f"{_use_port_advice(port)} Or, if that sandbox is yours and no longer needed: "
            f"`python -m helpers.sandbox stop --data-dir {where}`."
        )
    return SandboxError(
        f"Port {port} on 127.0.0.1 is used by another program, so the sandbox cannot start "
        f"there. Stop that program, or move the sandbox: {_use_port_advice(port)}"
    )


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        if os.name != "nt":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _spawn(
    data_dir: Path, port: int, idle_exit: float, front: tuple[str, ...] = ()
) -> subprocess.Popen:
    """Start ``python -m helpers.sandbox`` detached: it outlives this kernel."""
    import helpers

    private_dir(data_dir)
    env = dict(os.environ)
    root = str(Path(helpers.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    args = [
        sys.executable,
        "-m",
        "helpers.sandbox",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--idle-exit",
        str(idle_exit),
        "--background",
        *_front_args(front),
    ]
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = (
            subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        )
    else:
        kwargs["start_new_session"] = True  # not killed with the kernel's process group
    log_file = open(private_file(data_dir / LOG_FILE), "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            cwd=str(data_dir),
            env=env,
            close_fds=True,
            **kwargs,
        )
    finally:
        log_file.close()


def _log_tail(data_dir: Path, lines: int = 5) -> str:
    try:
        text = (data_dir / LOG_FILE).read_text("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _front_args(front: tuple[str, ...]) -> list[str]:
    """``front`` = (public URL, redirect URI, ...) as the sandbox's options."""
    if not front:
        return []
    public_url, *redirect_uris = front
    return ["--public-url", public_url, *(a for r in redirect_uris for a in ("--redirect-uri", r))]


def serves(data_dir: Path, front: tuple[str, ...]) -> bool:
    """Whether the sandbox running on ``data_dir`` (its state file) serves ``front``: its sign-in
    pages at ``front[0]``, and the redirect URIs ``front[1:]`` (``control.ensure_serving``)."""
    if not front:
        return True
    state = _read_state(data_dir) or {}
    public_url, *redirect_uris = front
    return state.get("public_url") == public_url and set(redirect_uris) <= set(
        state.get("redirect_uris") or ()
    )


def ensure_running(
    *, data_dir=None, port=None, timeout: float = 15.0, front: tuple[str, ...] = ()
) -> SandboxInfo:
    """Reuse the sandbox running on this data folder/port, or start one in the background.

    The background sandbox is a detached ``python -m helpers.sandbox`` process shared by every
    notebook kernel; it stops by itself after two idle hours. ``OAUTH_SANDBOX_DIR`` and
    ``OAUTH_SANDBOX_PORT`` override the default folder and port (8765). ``front``: (the public
    URL of its sign-in pages, more redirect URIs...) for one started here, when browsers reach
    it through jupyter-server-proxy (``control.ensure_serving``). Raises
    ``helpers.errors.SandboxError`` with a clear message if it cannot.
    """
    data_dir, port = _resolve(data_dir, port)
    idle = _idle_exit()  # checked even when a running sandbox is reused: mistakes show at once
    health = _health(port)
    info = _info_if_ours(data_dir, port, health)
    if info is not None:
        return info
    if health is not None:
        # Something answers /health there. It may be ours, still writing its state file.
        time.sleep(0.3)
        info = _info_if_ours(data_dir, port, _health(port))
        if info is not None:
            return info
        raise _not_ours(port, health, data_dir)
    state = _read_state(data_dir)
    if state is not None and not _pid_alive(state.get("pid")):
        (data_dir / STATE_FILE).unlink(missing_ok=True)  # a stale file from a killed sandbox
    if not _port_free(port):
        # Perhaps another kernel's sandbox bound it a moment ago and is still starting.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            health = _health(port, timeout=0.5)
            info = _info_if_ours(data_dir, port, health)
            if info is not None:
                return info
            if health is not None:
                break
            time.sleep(0.1)
        raise _not_ours(port, health, data_dir)
    proc = _spawn(data_dir, port, idle, front)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = _health(port, timeout=0.5)
        info = _info_if_ours(data_dir, port, health)
        if info is not None:
            return info
        if proc.poll() is not None:
            # Our child quit: maybe another kernel's sandbox won the port a moment ago.
            time.sleep(0.2)
            info = _info_if_ours(data_dir, port, _health(port))
            if info is not None:
                return info
            health = _health(port)
            if health is not None or not _port_free(port):
                raise _not_ours(port, health, data_dir)
            raise SandboxError(
                f"The sandbox could not start on port {port} (exit code {proc.returncode}). "
                f"Its log ({data_dir / LOG_FILE}) ends with:\n{_log_tail(data_dir)}"
            )
        time.sleep(0.05)
    raise SandboxError(
        f"The sandbox did not answer on http://127.0.0.1:{port} within {timeout:g} s. "
        f"See its log at {data_dir / LOG_FILE}, or run `python -m helpers.sandbox` in a "
        "terminal to see what goes wrong."
    )


def _control_token(url: str) -> str | None:
    """The control token of the sandbox at ``url``, from its state file, if this user can read
    it (mode 0600: only the user who started the sandbox)."""
    health = _get_json(url + "/health")
    if not health or health.get("service") != SERVICE or not health.get("data_dir"):
        return None
    state = _read_state(Path(health["data_dir"]))
    if not state or state.get("pid") != health.get("pid"):
        return None
    return state.get("control_token")
