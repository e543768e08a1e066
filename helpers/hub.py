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

The same service keeps the instructor page: besides the stages the sandbox sees, the kernel
reports the tutorial error its learner was just shown (``report_error``, from
helpers/error_display.py) and each exercise's check (``report_exercise``, from
helpers/exercises/verdict.py). Only names, an exercise's number, right or wrong, and a short
message with every secret masked leave the kernel; in a thread of its own, so a slow or missing
service never holds up or breaks a cell. Off a class hub they do nothing.

The classroom's ``jupyterhub_config.py`` sets the variables read here in each learner's
environment; nothing needs setting by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ClassroomError
from .loopback import free_port, is_loopback
from .redact import SECRET_NAMES, mask, printable, redact_body

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
        self._post("api/pending", {"state": state, "port": self.port}, timeout)

    def report(self, event: dict, timeout: float = 10.0) -> None:
        """Send the class callback service one report for the instructor page:
        ``{"error": "ClassName", "message": "..."}`` or ``{"exercise": "2.1", "status": "right"}``."""
        self._post("api/report", event, timeout)

    def _post(self, path: str, event: dict, timeout: float) -> None:
        request = urllib.request.Request(  # noqa: S310 - detect() allows http(s) only
            self.router_url + path,
            data=json.dumps(event).encode(),
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


# --- reports for the instructor page ---------------------------------------------------------

#: At most this much of an error's message is reported.
MESSAGE_LIMIT = 200
_SECRET_PAIR = re.compile(r"\b(" + "|".join(sorted(SECRET_NAMES)) + r")=([^\s&\"']+)", re.I)


def report_error(error: BaseException) -> None:
    """On a class hub, tell the instructor page which tutorial error was just shown: its class
    name and its message, shortened, every secret masked. Never raises; does not wait."""
    with contextlib.suppress(Exception):  # a report is never worth a failed cell
        seat = _reporting_seat()
        if seat is not None:
            message = _redacted(str(error), seat)
            _send_later(seat, {"error": type(error).__name__, "message": message})


def report_exercise(number: str, verdict) -> None:
    """On a class hub, tell the instructor page exercise ``number``'s result, right or wrong
    ("not done yet" is not reported). ``exercises.verdict.exercise`` calls it after each check.
    Never raises; does not wait."""
    if not os.environ.get("JUPYTERHUB_USER") or verdict.status not in ("right", "wrong"):
        return  # off a hub: one dictionary lookup
    with contextlib.suppress(Exception):  # a report is never worth a failed check
        seat = _reporting_seat()
        if seat is not None:
            _send_later(seat, {"exercise": number, "status": verdict.status})


def _reporting_seat() -> Seat | None:
    try:
        return detect()
    except ClassroomError:  # no free port: no seat, and no report
        return None


def _redacted(message: str, seat: Seat) -> str:
    """``message`` with this learner's secrets, ``code=``-like pairs and credential-like runs
    masked (helpers/redact.py), on one line, at most ``MESSAGE_LIMIT`` characters."""
    for secret in (seat.api_token, seat.sandbox_password, os.environ.get("OAUTH_CLIENT_SECRET")):
        if secret:
            message = message.replace(secret, mask(secret))
    message = _SECRET_PAIR.sub(lambda m: f"{m.group(1)}={mask(m.group(2))}", message)
    return printable(redact_body(message, "text/plain"), limit=MESSAGE_LIMIT)


def _send_later(seat: Seat, event: dict) -> None:
    def send() -> None:
        # Whatever goes wrong, the page misses one report and the learner's cell goes on.
        with contextlib.suppress(Exception):
            seat.report(event, timeout=5.0)

    threading.Thread(target=send, name="class-report", daemon=True).start()
