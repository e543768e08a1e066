"""Ask the learner's browser which address it uses for Jupyter, through jupyter-server-proxy.

    >>> from helpers.browser_origin import OriginListener
    >>> with OriginListener() as listener:
    ...     listener.reaches_through(server)     # the kernel's own look through the proxy
    ...     listener.ask_browser(server.base_url)
    True
    Answer(origin='https://hub.example.org', direct=False)

The kernel knows its Jupyter server as 127.0.0.1 or a container's address; the browser may know
it as ``https://hub.example.org`` behind a hub, Binder, a tunnel or a reverse proxy, and only
the browser can say. So a small listener of the kernel's own (loopback, a free port) waits for
one request, and a notebook output holds a script that makes it from the browser: ``fetch`` of
``<base>proxy/<port>/origin?key=…&origin=<location.origin>``, a same-origin request that
jupyter-server-proxy hands to the listener. JupyterLab runs scripts only in outputs it trusts,
which the outputs of a cell run in this session are. The output is cleared once answered.

Each kernel asks (a few tens of milliseconds, docs/proxy.md): the same server may be opened at
another address later (a tunnel's, then its own host name), and the answer must be this one.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .loopback import free_port, open_direct

#: Seconds to wait for the browser's answer.
BROWSER_WAIT = 10.0
PROBE_ANSWER = b"oauth-tutorial: reached"
DEFAULT_PORTS = {"http": 80, "https": 443}
# A host (a name, an IPv4 address, an IPv6 address in brackets), then maybe ":" and a port.
_NETLOC = re.compile(r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def parse_origin(text: str | None) -> str | None:
    """``scheme://host[:port]`` when ``text`` is a web origin, else None: http or https, a host
    name or an IP address (IPv6 in brackets), a port number from 1 to 65535, nothing else. The
    scheme's default port is left out, as browsers leave it out of ``location.origin`` and of
    the ``Host`` header."""
    try:
        parts = urlsplit((text or "").strip())
    except ValueError:  # "[example.org]": brackets that hold no IPv6 address
        return None
    if parts.scheme not in DEFAULT_PORTS or parts.query or parts.fragment:
        return None
    netloc = _NETLOC.fullmatch(parts.netloc.lower())
    if netloc is None or parts.path not in ("", "/"):
        return None
    host, port = _host(netloc["host"]), int(netloc["port"] or DEFAULT_PORTS[parts.scheme])
    if host is None or not 0 < port < 65536:
        return None
    shown = "" if port == DEFAULT_PORTS[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


def _host(host: str) -> str | None:
    """An IP address (IPv6 in brackets), or a DNS name of letters, digits, ``-`` and ``_``, as
    a browser writes it; None for anything else."""
    try:
        if host.startswith("["):
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        if re.fullmatch(r"[0-9.]+", host):  # digits and dots: an IPv4 address or nothing
            return str(ipaddress.IPv4Address(host))
    except ValueError:
        return None
    labels = host.split(".")
    return host if len(host) <= 253 and all(map(_LABEL.fullmatch, labels)) else None


class OriginListener:
    """A one-question listener on 127.0.0.1: "which origin does the browser use?" (see above)."""

    def __init__(self) -> None:
        self.key = secrets.token_urlsafe(16)
        self.origin: str | None = None
        self.direct = False  # the browser reached this listener on 127.0.0.1 itself
        self._answered = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else 0

    def start(self) -> OriginListener:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                params = {k: v[0] for k, v in parse_qs(query).items()}
                body = b""
                # Only who was given the key (the kernel itself, the browser through the
                # output) gets an answer: the key is never sent back.
                if not secrets.compare_digest(
                    params.get("key", "").encode(), listener.key.encode()
                ):
                    status = 404
                elif path == "/probe":
                    status, body = 200, PROBE_ANSWER
                elif path == "/origin":
                    status = 204 if listener._take(params.get("origin")) else 400
                elif path == "/direct":
                    status, listener.direct = 204, True
                else:
                    status = 404
                self.send_response(status)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # not into the notebook

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()  # stop() waits for the next poll
        return self

    def _take(self, origin: str | None) -> bool:
        origin = parse_origin(origin)
        if origin and not self._answered.is_set():
            self.origin = origin
            self._answered.set()
        return bool(origin)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> OriginListener:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reaches_through(self, server, timeout: float = 5.0) -> bool | None:
        """This listener asked for through ``server``'s jupyter-server-proxy, as the kernel
        reaches the server: True when it answers, False when the server says there is no
        ``proxy/`` (404), None when it cannot tell (its login refused the kernel, say)."""
        request = urllib.request.Request(  # noqa: S310 - find_server() keeps http(s) URLs only
            f"{server.url}proxy/{self.port}/probe?key={self.key}",
            headers={"Authorization": f"token {server.token}"} if server.token else {},
        )
        try:
            with open_direct(request, timeout=timeout) as resp:
                return resp.status == 200 and resp.read() == PROBE_ANSWER
        except urllib.error.HTTPError as e:
            return False if e.code == 404 else None
        except OSError:
            return None

    def ask_browser(
        self, base_url: str, timeout: float = BROWSER_WAIT, *, direct: bool = False
    ) -> Answer | None:
        """Show the script that makes the browser answer; wait for it. None outside a notebook
        or when no answer came (an untrusted output, no browser looking).

        ``direct``, for a server that may run on the browser's machine: the script first tries
        this listener at ``http://127.0.0.1:<port>`` itself (its answer cannot be read, but the
        listener sees the request arrive: the browser runs on this machine), then, whatever
        came of that, says its origin through the proxy. Only then: elsewhere the answer means
        nothing, and an https page reaching for the browser's own 127.0.0.1 makes Chrome ask
        the learner for "local network access".
        """
        from .browser import _in_notebook

        if not _in_notebook():
            return None
        from IPython.display import HTML, display

        through = f"{base_url}proxy/{self.port}/origin?key={self.key}&origin="
        loopback = f"http://127.0.0.1:{self.port}/direct?key={self.key}" if direct else None
        script = SCRIPT % tuple(  # no "</script>" can come from a base URL
            json.dumps(url).replace("<", "\\u003c") for url in (through, loopback)
        )
        handle = display(HTML(script), display_id=True)
        try:
            self._answered.wait(timeout)
        finally:
            handle.update(HTML(""))
        return Answer(self.origin, self.direct) if self.origin else None


#: The browser's side: its origin through the proxy; before that, when asked for, the direct
#: try (1 s at most).
SCRIPT = """<div class="oauth-tutorial-origin"></div><script>(function () {
  function tell() {
    fetch(%s + encodeURIComponent(window.location.origin),
          {credentials: "same-origin", cache: "no-store"}).catch(function () {});
  }
  var direct = %s;
  if (direct === null) return tell();
  fetch(direct, {mode: "no-cors", cache: "no-store"}).then(tell, tell);
  setTimeout(tell, 1000);
})();</script>"""


@dataclass(frozen=True)
class Answer:
    """What the browser said: its origin, and whether it reached 127.0.0.1 of this machine."""

    origin: str
    direct: bool
