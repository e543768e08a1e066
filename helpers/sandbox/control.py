"""Stop a running sandbox or flip its fault switches, over HTTP, as its owner.

    >>> from helpers.sandbox import faults, stop_running
    >>> faults(info.url).fail_next_token_request()   # the next token request answers 503
    >>> stop_running()                               # only this data folder's sandbox
    True

Each call carries the sandbox's control token (``X-Sandbox-Control``), read from its state
file: only the user who started the sandbox can read that file, so only they can do this.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import time
import urllib.error
import urllib.request

from ..errors import SandboxError
from ..loopback import open_direct
from .defaults import CONTROL_HEADER
from .process import (
    SERVICE,
    STATE_FILE,
    SandboxInfo,
    _control_token,
    _get_json,
    _health,
    _pid_alive,
    _read_state,
    _resolve,
    _same_dir,
    ensure_running,
    serves,
)
from .switches import OVER_HTTP, Switches


class Faults:
    """Stop a running sandbox or flip its fault switches (its ``/sandbox/...`` endpoints):
    ``fail_next_token_request``, ``expire_access_tokens``, ``set_token_lifetimes``, ``reset``,
    as ``switches.Switches`` defines them (added below from ``switches.OVER_HTTP``).

    They need the sandbox's control token: given, or read from the sandbox's state file.
    """

    def __init__(self, url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = token

    def _post(self, name: str, data: dict) -> dict:
        if self._token is None:
            self._token = _control_token(self.url) or ""
        request = urllib.request.Request(  # noqa: S310 - http(s) URL of our sandbox
            f"{self.url}/sandbox/{name}",
            data=json.dumps(data).encode("utf-8"),
            headers={"Content-Type": "application/json", CONTROL_HEADER: self._token},
            method="POST",
        )
        try:
            with open_direct(request, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8") or "{}")
        except urllib.error.HTTPError as exc:
            try:
                why = json.loads(exc.read().decode("utf-8"))["error_description"]
            except (ValueError, KeyError, TypeError, OSError):
                why = f"HTTP {exc.code}"
            hint = (
                " No control token was found: this user cannot read the sandbox's state file."
                if exc.code == 403 and not self._token
                else ""
            )
            raise SandboxError(
                f"The sandbox at {self.url} refused /sandbox/{name}: {why}{hint}"
            ) from exc
        except OSError as exc:
            raise SandboxError(f"Could not reach the sandbox at {self.url}: {exc}.") from exc

    def shutdown(self) -> None:
        """Stop the sandbox; its log names this process as the one that asked."""
        self._post("shutdown", {"by": f"pid {os.getpid()}"})


def _remote(http_name: str, switch):
    """``Switches.<switch>`` as a call to ``POST /sandbox/<http_name>``: same arguments, same
    answer, same docstring."""
    signature = inspect.signature(switch)

    @functools.wraps(switch)
    def call(self: Faults, *args, **kwargs):
        given = signature.bind(None, *args, **kwargs).arguments  # None: the Switches' self
        arguments = {k: v for k, v in list(given.items())[1:] if v is not None}
        return self._post(http_name, arguments).get("result")

    return call


# Faults offers every switch of Switches, by the name and with the arguments defined there.
for _http_name, _method in OVER_HTTP.items():
    setattr(Faults, _method, _remote(_http_name, getattr(Switches, _method)))


def faults(url: str) -> Faults:
    """The fault switches of the sandbox at ``url``: ``faults(info.url).expire_access_tokens()``."""
    return Faults(url)


def stop_running(*, data_dir=None, port=None, timeout: float = 5.0) -> bool:
    """Stop the sandbox of this data folder: True if one stopped, False if none was running.

    Only its own: the sandbox is found through the folder's state file, and told to stop with
    the control token in it. A sandbox of another folder on the port is left running, and a
    ``SandboxError`` says whose it is.
    """
    data_dir, port = _resolve(data_dir, port)
    state = _read_state(data_dir)
    url = state.get("url") if state else None
    if url:
        health = _get_json(url + "/health")
        if (
            health
            and health.get("service") == SERVICE
            and _same_dir(health.get("data_dir"), data_dir)
            and health.get("pid") == state.get("pid")
        ):
            Faults(url, token=state.get("control_token", "")).shutdown()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _get_json(url + "/health", 0.3):
                time.sleep(0.05)
            # It removes its state file last, just before its process ends.
            while time.monotonic() < deadline and _read_state(data_dir) == state:
                time.sleep(0.05)
            return True
    if state is not None and not _pid_alive(state.get("pid")):
        (data_dir / STATE_FILE).unlink(missing_ok=True)
    health = _health(port)
    if health and health.get("service") == SERVICE:
        where = health.get("data_dir")
        if not _same_dir(where, data_dir):
            raise SandboxError(
                f"Port {port} holds the sandbox of another data folder ({where}), not this "
                f"one ({data_dir}): it was left running. Its owner can stop it with "
                f"`python -m helpers.sandbox stop --data-dir {where}`."
            )
        raise SandboxError(
            f"The sandbox on port {port} uses this data folder, but its state file "
            f"({data_dir / STATE_FILE}) is gone, so it cannot be asked to stop: end its process "
            f"(pid {health.get('pid')}) instead."
        )
    return False


def ensure_serving(front, *, data_dir=None, port=None) -> SandboxInfo:
    """``ensure_running``, for browsers that reach the sandbox through jupyter-server-proxy:
    ``front(port)`` gives its sign-in pages' public URL and the redirect URIs it must accept
    (``helpers.server_proxy``). A running sandbox of this folder that serves others is
    restarted with these."""
    data_dir, port = _resolve(data_dir, port)
    wanted = front(port)
    if not serves(data_dir, wanted):
        stop_running(data_dir=data_dir, port=port)  # if one runs: ours, for another address
    return ensure_running(data_dir=data_dir, port=port, front=wanted)
