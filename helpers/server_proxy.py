"""Signing in through jupyter-server-proxy, when the browser cannot reach this kernel's 127.0.0.1.

    >>> from helpers import server_proxy
    >>> route = server_proxy.detect()     # None on a laptop's JupyterLab, under nbclient, ...
    >>> route.sandbox_url(8765)           # the sandbox's sign-in pages, as the browser sees them
    'https://hub.example.org/user/alice/proxy/absolute/8765'
    >>> route.redirect_uri("/login/oauth2/code/goto")       # the callback, as the browser sees it
    'https://hub.example.org/user/alice/proxy/41234/login/oauth2/code/goto'
    >>> route.listen_uri("/login/oauth2/code/goto")         # ...and as the listener binds it
    'http://127.0.0.1:41234/login/oauth2/code/goto'

On Binder, on a JupyterHub without the class's services, or on a JupyterLab served under a base
URL, the browser reaches the Jupyter server and nothing else on its machine. jupyter-server-proxy
(in requirements.txt) forwards ``<base>proxy/<port>/…`` to ``127.0.0.1:<port>``, without the
prefix, and ``<base>proxy/absolute/<port>/…`` with the whole path. So, with the local sandbox:

* the sign-in pages are ``<origin><base>proxy/absolute/<sandbox port>/oauth/…``: the sandbox is
  started with that ``--public-url`` and serves its pages under it (helpers/sandbox/front.py);
* the callback is ``<origin><base>proxy/<listener port><redirect path>``, which reaches this
  kernel's listener as ``<redirect path>?code=…&state=…``. The sandbox accepts it for the demo
  client by a rule of its own: ``{port}`` in a registered redirect URI stands for any port;
* the token endpoint and the API stay where the kernel reaches them, on 127.0.0.1.

GoTo knows only the redirect URI registered on the OAuth client, so with GoTo nothing here
applies. Neither does it with a class hub's own setup (helpers/hub.py), which comes first.

Which server: the one whose runtime file (``jpserver-<pid>.json``) names this kernel's parent
process, at ``JUPYTERHUB_SERVICE_PREFIX`` on a hub, else at its base URL. Under nbclient or in a
terminal there is none, and nothing changes. Nor does it when a JupyterLab on 127.0.0.1 without
a base URL is seen in a browser on the same machine (the browser reached the kernel's
127.0.0.1 itself): there the redirect URI stays the one GoTo's guide registers. Seen through an
SSH tunnel, the same JupyterLab signs in through its proxy.

The origin (the scheme and host the browser uses) comes from ``JUPYTERHUB_PUBLIC_URL`` or
``JUPYTERHUB_HOST`` when the hub sets them, else from the browser itself (``browser_origin``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from . import browser_origin
from .errors import ProxyUnavailable
from .loopback import free_port, is_loopback
from .sandbox.defaults import ANY_PORT

HUB_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"
#: Seconds a server that looks like the learner's own machine waits for the browser (which
#: then usually reaches the listener itself: without an answer, the sign-in goes straight).
LOCAL_WAIT = 3.0


@dataclass(frozen=True)
class JupyterServer:
    """The Jupyter server this kernel belongs to, as its runtime file describes it."""

    url: str  # as this kernel reaches it, base URL included, e.g. "http://127.0.0.1:8888/lab/"
    base_url: str  # "/user/alice/"
    pid: int
    token: str = field(default="", repr=False)
    on_hub: bool = False

    @property
    def is_local(self) -> bool:
        """On 127.0.0.1, no base URL, no hub: a JupyterLab on the learner's own machine, or one
        reached through an SSH tunnel (the browser tells which: ``browser_origin``)."""
        host = urlsplit(self.url).hostname
        return not self.on_hub and self.base_url == "/" and is_loopback(host)


def find_server(environ=None) -> JupyterServer | None:
    """The Jupyter server whose process started this kernel, or None (nbclient, a terminal)."""
    env = os.environ if environ is None else environ
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    path = Path(jupyter_runtime_dir()) / f"jpserver-{os.getppid()}.json"
    try:
        info = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not str(info.get("url", "")).startswith("http"):
        return None
    prefix = env.get(HUB_PREFIX, "")
    url = info["url"] if info["url"].endswith("/") else info["url"] + "/"
    return JupyterServer(
        url=url,
        base_url=_slashed(prefix or info.get("base_url") or "/"),
        pid=int(info.get("pid") or os.getppid()),
        token=info.get("token") or env.get("JUPYTERHUB_API_TOKEN", ""),
        on_hub=bool(prefix),
    )


def _slashed(path: str) -> str:
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def hub_origin(environ=None) -> str | None:
    """The browser's origin when the hub says it: ``JUPYTERHUB_PUBLIC_URL``, ``JUPYTERHUB_HOST``."""
    env = os.environ if environ is None else environ
    for name in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_HOST"):
        value = env.get(name, "")
        parts = urlsplit(value)
        origin = browser_origin.parse_origin(f"{parts.scheme}://{parts.netloc}" if value else "")
        if origin:
            return origin
    return None


@dataclass(frozen=True)
class Route:
    """The browser-facing addresses through one Jupyter server's proxy (see the module)."""

    origin: str  # "https://hub.example.org"
    base_url: str  # "/user/alice/"
    listener_port: int  # this kernel's callback listener, chosen once per kernel

    def sandbox_url(self, port: int) -> str:
        """The sandbox's sign-in pages (the front channel), no trailing slash."""
        return f"{self.origin}{self.base_url}proxy/absolute/{port}"

    def redirect_uri(self, path: str) -> str:
        return f"{self.origin}{self.base_url}proxy/{self.listener_port}{path}"

    def listen_uri(self, path: str) -> str:
        return f"http://127.0.0.1:{self.listener_port}{path}"

    def front(self, path: str) -> Callable[[int], tuple[str, ...]]:
        """What the sandbox on a port must serve: its public URL, the redirect URIs it accepts
        (any kernel's listener on this server: ``{port}``)."""
        pattern = f"{self.origin}{self.base_url}proxy/{ANY_PORT}{path}"
        return lambda port: (self.sandbox_url(port) + "/", pattern)


def where(config) -> str:
    """One line: where the browser signs in, where the kernel talks, where the callback goes."""
    return (
        f"Through Jupyter's proxy: your browser signs in at {config.authorize_base_url} "
        f"(front channel), this kernel fetches tokens from {config.service_url} (back "
        f"channel), and the callback {config.redirect_uri} reaches this kernel's listener at "
        f"{config.listen_uri}."
    )


def from_the_kernel(url: str) -> tuple[str, dict[str, str]]:
    """``url`` as this kernel reaches it, and the headers to send: a page behind its server's
    proxy is on ``127.0.0.1:<port>``, where no Jupyter login stands in the way, and is asked
    for as jupyter-server-proxy asks: with the browser's ``Host`` header, the whole path for
    ``…/proxy/absolute/<port>/…``, the path after the prefix for ``…/proxy/<port>/…``. Any
    other URL is returned as it is, with no headers."""
    for route in filter(None, _routes.values()):
        proxy = f"{route.origin}{route.base_url}proxy/"
        found = re.match(r"(absolute/)?(\d{1,5})(/.*)?$", url[len(proxy) :], re.S)
        if url.startswith(proxy) and found:
            path = url[len(route.origin) :] if found[1] else found[3] or "/"
            return f"http://127.0.0.1:{found[2]}{path}", {"Host": urlsplit(route.origin).netloc}
    return url, {}


# One answer per kernel: the browser is asked at most once.
_routes: dict[tuple[int, str], Route | None] = {}


def detect(*, say: Callable[[str], None] = print, environ=None) -> Route | None:
    """This kernel's route through jupyter-server-proxy, or None when the sign-in goes straight
    to 127.0.0.1 as usual. When the server needs the proxy but it does not work, says
    ``ProxyUnavailable``'s message (the paste fallback) through ``say`` and returns None."""
    server = find_server(environ)
    if server is None:
        return None
    key = (server.pid, server.url)
    if key not in _routes:
        try:
            _routes[key] = _route(server, environ)
        except ProxyUnavailable as e:
            if not server.is_local:  # on the learner's own machine, straight is the way
                say(f"{type(e).__name__}: {e}")
            _routes[key] = None
    return _routes[key]


def _route(server: JupyterServer, environ) -> Route | None:
    with browser_origin.OriginListener() as listener:
        if listener.reaches_through(server) is False:
            raise ProxyUnavailable(
                f"the Jupyter server at {server.url} has no proxy/ (jupyter-server-proxy is not "
                "installed or not enabled in the server's environment: pip install -r "
                "requirements.txt there, then restart the server)"
            )
        origin = hub_origin(environ)
        if origin is None:  # asked in each kernel: the address may have changed since
            wait = LOCAL_WAIT if server.is_local else browser_origin.BROWSER_WAIT
            answer = listener.ask_browser(server.base_url, wait, direct=server.is_local)
            if answer is None:
                raise ProxyUnavailable(
                    "the browser did not say which address it uses for Jupyter within "
                    f"{wait:g} s (run this cell in JupyterLab, in a notebook you trust)"
                )
            if answer.direct:
                return None  # the browser runs on this machine: it reaches the listener itself
            origin = answer.origin
    parts = urlsplit(origin)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ProxyUnavailable(
            f"your browser reaches Jupyter at {origin}, over plain http to another machine, "
            "where the sign-in's code would travel unencrypted; serve Jupyter over https"
        )
    try:
        port = free_port()
    except OSError:
        raise ProxyUnavailable("no free port on 127.0.0.1 for the callback listener") from None
    return Route(origin, server.base_url, port)
