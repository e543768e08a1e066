"""The sandbox as one class's JupyterHub service: browser pages under the hub's prefix, an
account per learner, and each learner's progress for the instructor page.

    >>> front = HubFront("http://127.0.0.1:8000/services/oauth-sandbox/", class_secret=b"k")
    >>> front.prefix
    '/services/oauth-sandbox'
    >>> class_password(b"k", "alice")       # what alice's kernel is told, and nobody else's
    '...'

Browsers reach the sandbox through JupyterHub's proxy, which does not strip the prefix: the
sign-in pages are served under it as ``front.Front`` serves them (a page asked for at
``/services/oauth-sandbox/oauth/authorize`` is answered as ``/oauth/authorize``); the token
endpoint, the API, the fault switches and the request log stay on the back channel: the log
shows every learner's sign-ins, so it is the teacher's, on the hub's machine
(``python -m helpers.sandbox debug-link``).

Each learner signs in as their hub name with the password ``class_password(secret, name)``,
which the hub puts in that learner's environment only (``classroom/jupyterhub_config.py``);
the account is made at the first sign-in. Progress (signed in, allowed, denied, token, API
call, refresh, revoke) is appended to a JSON-lines file the class's callback service reads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from .front import FRONT_ROUTES, Front
from .transport import Request, Response

CLASS_HINT = (
    b'<aside class="demo"><p>Sign in with your JupyterHub name and the password your '
    b"notebook's first cell shows.</p></aside>"
)


def class_password(secret: bytes, name: str) -> str:
    """The sandbox password of hub user ``name``: an HMAC of the name under the class secret."""
    mac = hmac.new(secret, b"oauth-sandbox-password:" + name.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:16]


@dataclass
class HubFront(Front):
    """How the sandbox serves a class behind JupyterHub (see the module's docstring)."""

    class_secret: bytes | None = field(default=None, repr=False)
    events_file: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    routes = FRONT_ROUTES  # not the request log: it shows the whole class (module docstring)

    def outgoing(self, resp: Response) -> Response:
        """The prefix's links (``Front``), and the class's sign-in form."""
        resp = super().outgoing(resp)
        if resp.body and self._is_html(resp):
            # Learners sign in with their hub name, which is not an email address, and with
            # the password their notebook shows, not the demo account's; and no link to the
            # request log, which is not served here.
            body = resp.body.replace(b'type="email"', b'type="text"')
            body = re.sub(rb'<aside class="demo".*?</aside>', CLASS_HINT, body, flags=re.S)
            resp.body = re.sub(
                rb"<li><a href=\"[^\"]*/debug/requests\".*?</li>\s*", b"", body, flags=re.S
            )
        return resp

    # --- one account per learner ------------------------------------------------------------

    def class_account(self, store, name: str, password: str):
        """The learner's account, made at their first sign-in, if the password is theirs."""
        name = name.strip()
        if not self.class_secret or not name:
            return None
        if not hmac.compare_digest(
            password.encode(), class_password(self.class_secret, name).encode()
        ):
            return None
        return store.put_user(name, password, name)  # one password hash, not two

    # --- progress, for the instructor page --------------------------------------------------

    def observe(self, app, req: Request, resp: Response) -> None:
        """Append the stage this answer shows a learner reaching, if any."""
        if self.events_file is None or resp.status >= 400:
            return
        user, stage = _stage(app, req, resp)
        if user and stage:
            line = json.dumps({"time": time.time(), "user": user, "stage": stage})
            with self._lock, open(self.events_file, "a", encoding="utf-8") as out:
                out.write(line + "\n")


def _form(req: Request) -> dict[str, str]:
    try:
        return dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return {}


def _bearer_user(app, req: Request) -> str | None:
    auth = req.headers.get("authorization", "").split()
    if len(auth) == 2 and auth[0].lower() == "bearer":
        row = app.store.get_token(auth[1], "access")
        return row.email if row else None
    return None


def _stage(app, req: Request, resp: Response) -> tuple[str | None, str | None]:
    path, method = req.path, req.method
    if method == "POST" and path == "/oauth/login" and resp.status == 303:
        return _form(req).get("email", "").strip(), "signed in"
    if method == "POST" and path == "/oauth/consent" and resp.status == 302:
        session = app._session(req)
        decision = _form(req).get("decision")
        return (session.email if session else None), (
            "allowed" if decision == "allow" else "denied"
        )
    if method == "POST" and path == "/oauth/token" and resp.status == 200:
        grant = _form(req).get("grant_type")
        try:
            user = json.loads(resp.body).get("principal")
        except ValueError:
            return None, None
        return user, {"authorization_code": "token", "refresh_token": "refresh"}.get(grant)
    if method == "POST" and path == "/oauth/revoke":
        row = app.store.get_token(_form(req).get("token"))
        return (row.email if row else None), "revoke"
    if path in ("/messaging/v1/messages", "/identity/v1/Users/me"):
        return _bearer_user(app, req), "API call"
    return None, None
