"""On a class's JupyterHub: the class sandbox, the class callback, and this learner's listener.

    >>> from helpers import hub
    >>> seat = hub.detect()            # None off a hub (or on a hub without the class setup)
    >>> seat.user, seat.port
    ('alice', 41234)
    >>> seat.listen_uri("https://hub.example.org/services/oauth-callback/")
    'http://127.0.0.1:41234/services/oauth-callback/'

With real GoTo a teacher registers ONE redirect URI for the whole class: the class callback
service (``classroom/router.py``) at ``/services/oauth-callback/``. Before the browser goes to
the sign-in page, the kernel tells that service "state S is mine (this hub user), my listener is
on port P" (``register``), authenticated with the hub token JupyterHub gave this server. The
service then sends the browser that comes back with state S, and only that one, on to
``/user/<name>/proxy/P/services/oauth-callback/?code=...&state=S``, which jupyter-server-proxy
hands to this kernel's listener as ``/services/oauth-callback/?code=...``.

The classroom's ``jupyterhub_config.py`` sets the variables read here in each learner's
environment; nothing needs setting by hand.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ClassroomError
from .loopback import free_port, is_loopback

#: Where the class callback service listens for the kernels (the back channel).
ROUTER_VARIABLE = "OAUTH_CLASS_ROUTER_URL"
#: The sandbox's sign-in pages as the browser reaches them (the front channel).
FRONT_VARIABLE = "OAUTH_AUTHORIZE_BASE_URL"

# Never through a proxy: the class service is on this machine.
_open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def _free_port() -> int:
    """A free loopback port below the ephemeral range, where outgoing connections (the
    browser's, JupyterLab's, the other learners') never take it before the listener binds."""
    try:
        return free_port()
    except OSError:
        raise ClassroomError(
            "No free port for the callback listener: restart the kernel."
        ) from None


@dataclass(frozen=True)
class Seat:
    """One learner on the class hub: who, where their kernel's listener listens, whom to tell."""

    user: str
    router_url: str  # e.g. "http://127.0.0.1:8766/services/oauth-callback/"
    api_token: str = field(repr=False)
    port: int = 0
    sandbox_password: str = field(default="", repr=False)

    def listen_uri(self, redirect_uri: str) -> str:
        """The loopback address the listener binds: this seat's port, the class callback's path."""
        return f"http://127.0.0.1:{self.port}{urlsplit(redirect_uri).path or '/'}"

    def register(self, state: str, timeout: float = 10.0) -> None:
        """Tell the class callback service that the callback carrying ``state`` is ours."""
        body = json.dumps({"state": state, "port": self.port}).encode()
        request = urllib.request.Request(  # noqa: S310 - detect() allows http(s) only
            self.router_url + "api/pending",
            data=body,
            method="POST",
            headers={
                "Authorization": f"token {self.api_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with _open(request, timeout=timeout) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            try:
                detail = json.loads(e.read().decode("utf-8"))["error"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                detail = e.reason
            raise ClassroomError(
                f"The class callback service refused this sign-in ({e.code}: {detail}). Ask "
                "your teacher to check the hub's oauth-callback service."
            ) from None
        except OSError as e:
            raise ClassroomError(
                f"The class callback service at {self.router_url} cannot be reached ({e}). "
                "Ask your teacher whether the hub's oauth-callback service is running."
            ) from None


_seat: Seat | None = None


def detect(environ=None) -> Seat | None:
    """This kernel's seat on a class hub, or None. The port is chosen once per kernel."""
    global _seat
    env = os.environ if environ is None else environ
    user, router = env.get("JUPYTERHUB_USER"), env.get(ROUTER_VARIABLE)
    if not user or not router or urlsplit(router).scheme not in ("http", "https"):
        return None
    if _seat is None or _seat.user != user or _seat.router_url != router:
        _seat = Seat(
            user=user,
            router_url=router if router.endswith("/") else router + "/",
            api_token=env.get("JUPYTERHUB_API_TOKEN", ""),
            port=_free_port(),
            sandbox_password=env.get("OAUTH_SANDBOX_PASSWORD", ""),
        )
    return _seat


def uses_class_sandbox() -> bool:
    """Whether this learner signs in on the class's sandbox (the hub gave them its password):
    the notebooks' sandbox-only lessons (plain http on loopback, who-am-I) apply then."""
    seat = detect()
    return bool(seat and seat.sandbox_password)


def check_class_redirect_uri(uri: str) -> str | None:
    """What is wrong with the class's redirect URI (the hub's callback service), or None."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be the hub's class callback, e.g. https://hub.example.org/services/oauth-callback/"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "must use https (a hub other people reach is served over TLS)"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def where(config) -> str:
    """One line: where the browser signs in, where the kernel talks, where the callback goes."""
    seat = detect()
    who = f" Sign in as {seat.user}" if seat else ""
    if seat and seat.sandbox_password:
        who += f" with the password {seat.sandbox_password}"
    return (
        f"On JupyterHub: your browser signs in at {config.authorize_base_url} (front channel), "
        f"this kernel fetches tokens from {config.service_url} (back channel), and the class "
        f"callback {config.redirect_uri} sends your browser on to your own listener"
        + (f" (port {seat.port})." if seat else ".")
        + (who + "." if who else "")
    )
