"""Which authorization server this notebook talks to, and the OAuth client's values for it.

    >>> from helpers import connect
    >>> cfg = connect.load()     # prints one line when it is not GoTo

``load()`` is the one place that decides, in this order:

    the class hub    JupyterHub set OAUTH_AUTHORIZE_BASE_URL for this learner (helpers/hub.py)
    GoTo             OAUTH_SERVICE_URL is set, in .env or the environment
    the sandbox      neither: the local sandbox, started now if it is not running yet

It sits above both ``config`` (reading and checking ``.env``) and ``sandbox`` (the local
server), so neither imports the other's way up. A new case is one more branch in ``load()``.
"""

from __future__ import annotations

import os

from . import config
from .config import DEFAULT_REDIRECT_URI, OAuthConfig


def load(env_file: str | os.PathLike | None = None, *, quiet: bool = False) -> OAuthConfig:
    """Read and check the OAuth client's values, for the authorization server in use.

    ``env_file`` defaults to the nearest ``.env`` in the working folder or a parent. When
    ``OAUTH_SERVICE_URL`` is unset or empty, the local sandbox is started (or reused) and the
    config points at it. ``quiet=True`` skips the one line that says which server it is when
    it is not GoTo.
    """
    values, source = config.read(env_file)
    if values.get("OAUTH_AUTHORIZE_BASE_URL"):  # the class hub (helpers/hub.py)
        from . import hub

        if hub.uses_class_sandbox():
            values["_SANDBOX"] = "1"
    if not values.get("OAUTH_SERVICE_URL"):  # the local sandbox
        values = _local_sandbox(values, quiet)
    cfg = config.validate(values, source)
    if cfg.authorize_base_url and not quiet:  # the class hub: where each channel goes
        from . import hub

        print(hub.where(cfg))
    return cfg


def _local_sandbox(values: dict[str, str], quiet: bool) -> dict[str, str]:
    """The values that point at the local sandbox, started (or reused) here."""
    from . import sandbox  # imported only when needed: it is the heavier half of the package

    info = sandbox.ensure_running()
    if not quiet:
        print(
            f"Using the local sandbox at {info.url} (OAUTH_SERVICE_URL is not set; "
            "fill .env to use GoTo)."
        )
    return {
        "OAUTH_SERVICE_URL": info.url,
        "OAUTH_CLIENT_ID": info.client_id,
        "OAUTH_CLIENT_SECRET": info.client_secret,
        "OAUTH_REDIRECT_URI": values.get("OAUTH_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
        "OAUTH_SCOPES": values.get("OAUTH_SCOPES", ""),
        "GOTO_API_URL": info.url,
        "_SANDBOX": "1",
    }
