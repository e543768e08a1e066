"""The sandbox's sign-in pages served under a prefix, for browsers that reach it through a proxy.

    >>> front = Front("https://hub.example.org/user/alice/proxy/absolute/8765/")
    >>> front.prefix
    '/user/alice/proxy/absolute/8765'

A proxy that keeps the path (JupyterHub's for a hub service, jupyter-server-proxy's
``/proxy/absolute/<port>/``) hands the sandbox ``<prefix>/oauth/authorize``: it is answered as
``/oauth/authorize``, and the page's own links, forms and redirects are put back under the
prefix, its cookies' ``Path`` too (the session's is the prefix's, not the whole server's).
Only the sign-in pages are served there (authorize, login, consent, sign out, the home page)
and the owner's request log (``/debug/requests``, still behind
its key: a learner's browser may be anywhere; a class's front leaves it out, hub.py); the token
endpoint, the API and the fault switches stay on the back channel, where the kernels reach them
directly on 127.0.0.1. A request through the proxy must name the public address's host in its
Host header (the proxies named above pass the browser's on), so a page on another name that
resolves here gets nothing (DNS rebinding).

``helpers/sandbox/hub.py`` builds a class's front on this one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from .transport import Request, Response, json_response

#: The pages a browser may ask for through the proxy (method, path below the prefix).
FRONT_ROUTES = {
    ("GET", "/"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/login"),
    ("GET", "/oauth/consent"),
    ("POST", "/oauth/consent"),
    ("POST", "/oauth/sign-out"),  # the consent and home pages' Sign out button
}
#: The owner's request log, which a plain front serves too (a class's does not: hub.py).
LOG_ROUTE = ("GET", "/debug/requests")
_COOKIE_PATH = re.compile(r"(;\s*Path=)(/[^;]*)", re.I)


@dataclass
class Front:
    """The sign-in pages under ``public_url``'s path (see the module's docstring)."""

    public_url: str  # what browsers use, e.g. "https://hub.example.org/services/oauth-sandbox/"

    #: (method, path below the prefix) of what a browser may ask for through the proxy.
    routes = FRONT_ROUTES | {LOG_ROUTE}

    @property
    def prefix(self) -> str:
        return urlsplit(self.public_url).path.rstrip("/")

    @property
    def host(self) -> str:
        return urlsplit(self.public_url).netloc.lower()

    def incoming(self, req: Request) -> tuple[Request | None, Response | None]:
        """(the request as the sandbox routes it, None), or (None, the refusal), or (None, None)
        when the request is not for the prefix (a back-channel request from a kernel)."""
        path = req.path
        if not self.prefix or not (path == self.prefix or path.startswith(self.prefix + "/")):
            return None, None
        inner = path[len(self.prefix) :] or "/"
        method = "GET" if req.method == "HEAD" else req.method
        if (method, inner) not in self.routes:
            return None, json_response(
                404,
                {
                    "error": "not_found",
                    "error_description": "Only the sign-in pages (and the owner's request log) "
                    "are served through the proxy; kernels reach the token endpoint and the API "
                    "directly.",
                },
            )
        if req.headers.get("host", "").strip().lower() != self.host:
            return None, json_response(
                421,
                {
                    "error": "invalid_request",
                    "error_description": f"Through the proxy, this sandbox is {self.public_url}.",
                },
            )
        query = urlsplit(req.target).query
        return replace(req, target=inner + ("?" + query if query else "")), None

    def outgoing(self, resp: Response) -> Response:
        """Put the page's own links, forms, redirects and cookies back under the prefix."""
        for i, (name, value) in enumerate(resp.headers):
            if name.lower() == "location" and value.startswith("/"):
                resp.headers[i] = (name, self.prefix + value)
            elif name.lower() == "set-cookie":  # the session's Path=<prefix>, the log's .../debug/
                resp.headers[i] = (name, _COOKIE_PATH.sub(self._cookie_path, value))
        if resp.body and self._is_html(resp):
            body = resp.body
            for attr in (b'action="/', b'href="/'):
                body = body.replace(attr, attr[:-1] + self.prefix.encode() + b"/")
            resp.body = body
        return resp

    def _cookie_path(self, match: re.Match) -> str:
        """``Path=/`` becomes ``Path=<prefix>``, which the bare prefix matches too (RFC 6265
        §5.1.4); ``Path=/debug/`` becomes ``Path=<prefix>/debug/``."""
        path = "" if match[2] == "/" else match[2]
        return f"{match[1]}{self.prefix}{path}"

    @staticmethod
    def _is_html(resp: Response) -> bool:
        return any(
            n.lower() == "content-type" and v.startswith("text/html") for n, v in resp.headers
        )

    # A class's front (hub.py) adds accounts and progress; a plain one has neither.

    def class_account(self, store, name: str, password: str):
        return None

    def observe(self, app, req: Request, resp: Response) -> None:
        return None
