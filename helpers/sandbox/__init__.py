"""A local GoTo-compatible authorization server and small protected API, for learning offline.

    >>> from helpers import sandbox
    >>> info = sandbox.ensure_running()      # starts it in the background, or reuses it
    >>> info.url
    'http://127.0.0.1:8765'
    >>> sandbox.faults(info.url).fail_next_token_request()   # a teaching fault switch

It is a real OAuth 2.0 server (oauthlib's, with a stricter policy layer): a login page, a
consent page with Allow and Deny, ``/oauth/token`` with HTTP Basic client authentication,
``/oauth/revoke``, and ``POST /messaging/v1/messages`` / ``GET /identity/v1/Users/me`` behind
bearer tokens. Its state lives in SQLite in the data folder, so restarts lose nothing.

Settings, from the environment or ``.env`` (see ``.env.example``): ``OAUTH_SANDBOX_DIR``
(data folder), ``OAUTH_SANDBOX_PORT`` (port, 8765 by default) and ``OAUTH_SANDBOX_IDLE_EXIT``
(seconds without a request before a background sandbox stops; 7200 by default).

Only its owner controls a sandbox: stopping it, its fault switches and its request log need the
control token in its state file, which only the user who started it can read.

This module is cheap to import: the server code is imported only when one is started here.
The background process lives in ``process``, the HTTP control client in ``control``.
Instructors run it in a terminal with ``python -m helpers.sandbox`` (``--help`` for options).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SandboxError
from .control import Faults, ensure_serving, faults, stop_running
from .defaults import DEFAULT_PORT
from .process import (
    SandboxInfo,
    ensure_running,
    next_free_port,
    recorded_info,
)
from .request_log import debug_url, request_log_link, show_request_log, show_where

if TYPE_CHECKING:
    from .runner import RunningSandbox

__all__ = [
    "SandboxInfo",
    "debug_url",
    "request_log_link",
    "show_request_log",
    "show_where",
    "ensure_running",
    "ensure_serving",
    "serve_in_thread",
    "faults",
    "Faults",
    "stop_running",
    "recorded_info",
    "next_free_port",
    "DEFAULT_PORT",
]


def serve_in_thread(
    data_dir, *, host: str = "127.0.0.1", port: int = 0, **options
) -> RunningSandbox:
    """Start a sandbox in a daemon thread of this process (tests, benchmarks).

    ``options``: client_id, client_secret, user_email, user_password, access_token_lifetime,
    refresh_token_lifetime, code_lifetime, refresh_mode ("goto" or "rotate"), users (a dict
    email -> password of extra users), idle_exit (seconds). Returns a ``RunningSandbox``: use
    ``.info``, ``.url``, ``.stop()``, or ``with serve_in_thread(...) as sandbox:``.
    """
    from .runner import RunningSandbox, build

    idle_exit = options.pop("idle_exit", None)
    try:
        httpd = build(data_dir, host=host, port=port, **options)
    except OSError as exc:
        raise SandboxError(f"The sandbox could not listen on {host}:{port}: {exc}.") from exc
    return RunningSandbox(httpd, idle_exit=idle_exit).start()
