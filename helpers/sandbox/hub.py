"""The sandbox as one class's JupyterHub service: browser pages under the hub's prefix, an
account per learner, and each learner's progress for the instructor page.

    >>> front = HubFront("http://127.0.0.1:8000/services/oauth-sandbox/", class_secret=b"k")
    >>> front.prefix
    '/services/oauth-sandbox'
    >>> class_password(b"k", "alice")       # what alice's kernel is told, and nobody else's
    '...'

Browsers reach the sandbox through JupyterHub's proxy, which does not strip the prefix: a page
asked for at ``/services/oauth-sandbox/oauth/authorize`` is answered as ``/oauth/authorize``,
and its links, forms and redirects are put back under the prefix. Only the sign-in pages are
served there (authorize, login, consent, the home page); the token endpoint, the API and the
fault switches stay on the back channel (the kernels reach them directly on 127.0.0.1).

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .transport import Request, Response, json_response

#: The pages a browser may ask for through the hub (method, path below the prefix).
FRONT_ROUTES = {
    ("GET", "/"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/login"),
    ("GET", "/oauth/consent"),
    ("POST", "/oauth/consent"),
    ("POST", "/oauth/sign-out"),  # the consent and home pages' Sign out button
}


CLASS_HINT = (
    b'<aside class="demo"><p>Sign in with your JupyterHub name and the password your '
    b"notebook's first cell shows.</p></aside>"
)


def class_password(secret: bytes, name: str) -> str:
    """The sandbox password of hub user ``name``: an HMAC of the name under the class secret."""
    mac = hmac.new(secret, b"oauth-sandbox-password:" + name.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:16]


@dataclass
class HubFront:
    """How the sandbox serves a class behind JupyterHub (see the module's docstring)."""

    public_url: str  # what browsers use, e.g. "https://hub.example.org/services/oauth-sandbox/"
    class_secret: bytes | None = field(default=None, repr=False)
    events_file: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def prefix(self) -> str:
        return urlsplit(self.public_url).path.rstrip("/")

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).netloc.lower()

    # --- the front channel: requests that came through the hub's proxy ---------------------

    def incoming(self, req: Request) -> tuple[Request | None, Response | None]:
        """(the request as the sandbox routes it, None), or (None, the refusal), or (None, None)
        when the request is not for the prefix (a back-channel request from a kernel)."""
        path = req.path
        if not self.prefix or not (path == self.prefix or path.startswith(self.prefix + "/")):
            return None, None
        inner = path[len(self.prefix) :] or "/"
        method = "GET" if req.method == "HEAD" else req.method
        if (method, inner) not in FRONT_ROUTES:
            return None, json_response(
                404,
                {
                    "error": "not_found",
                    "error_description": "Only the sign-in pages are served through the hub; "
                    "kernels reach the token endpoint and the API directly.",
                },
            )
        if req.headers.get("host", "").strip().lower() != self.host:
            return None, json_response(
                421,
                {
                    "error": "invalid_request",
                    "error_description": f"Through the hub, this sandbox is {self.public_url}.",
                },
            )
        query = urlsplit(req.target).query
        return replace(req, target=inner + ("?" + query if query else "")), None

    def outgoing(self, resp: Response) -> Response:
        """Put the page's own links, forms and redirects back under the prefix."""
        for i, (name, value) in enumerate(resp.headers):
            if name.lower() == "location" and value.startswith("/"):
                resp.headers[i] = (name, self.prefix + value)
        if resp.body and any(
            n.lower() == "content-type" and v.startswith("text/html") for n, v in resp.headers
        ):
            body = resp.body
            for attr in (b'action="/', b'href="/'):
                body = body.replace(attr, attr[:-1] + self.prefix.encode() + b"/")
            # Learners sign in with their hub name, which is not an email address, and with
            # the password their notebook shows, not the demo account's.
            body = body.replace(b'type="email"', b'type="text"')
            body = re.sub(rb'<aside class="demo".*?</aside>', CLASS_HINT, body, flags=re.S)
            resp.body = body
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
