"""Ask the learner's browser which address it uses for Jupyter, through jupyter-server-proxy.

    >>> from helpers.browser_origin import OriginListener
    >>> with OriginListener() as listener:
    ...     listener.reaches_through(server)     # the kernel's own look through the proxy
    ...     listener.ask_browser(server.base_url)
    True
    'https://hub.example.org'

The kernel knows its Jupyter server as 127.0.0.1 or a container's address; the browser may know
it as ``https://hub.example.org`` behind a hub, Binder, a tunnel or a reverse proxy, and only
the browser can say. So a small listener of the kernel's own (loopback, a free port) waits for
one request, and a notebook output holds a script that makes it from the browser: ``fetch`` of
``<base>proxy/<port>/origin?key=…&origin=<location.origin>``, a same-origin request that
jupyter-server-proxy hands to the listener. JupyterLab runs scripts only in outputs it trusts,
which the outputs of a cell run in this session are. The output is cleared once answered.

The answer is kept per Jupyter server (a file in Jupyter's runtime folder, next to the server's
own), so the other notebooks on the same server need not ask again.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .loopback import free_port

#: Seconds to wait for the browser's answer.
BROWSER_WAIT = 10.0
PROBE_ANSWER = b"oauth-tutorial: reached"

# Never through an HTTP proxy setting: the Jupyter server is on this machine.
_open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def parse_origin(text: str | None) -> str | None:
    """``scheme://host[:port]`` when ``text`` is a web origin, else None."""
    if not text:
        return None
    parts = urlsplit(text.strip())
    try:
        parts.port  # noqa: B018 - a malformed port raises ValueError
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"


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
            with _open(request, timeout=timeout) as resp:
                return resp.status == 200 and resp.read() == PROBE_ANSWER
        except urllib.error.HTTPError as e:
            return False if e.code == 404 else None
        except OSError:
            return None

    def ask_browser(self, base_url: str, timeout: float = BROWSER_WAIT) -> Answer | None:
        """Show the script that makes the browser answer; wait for it. None outside a notebook
        or when no answer came (an untrusted output, no browser looking).

        The script first tries this listener at ``http://127.0.0.1:<port>`` itself (its
        answer cannot be read, but the listener sees the request arrive: the browser runs on
        this machine), then, whatever came of that, says its origin through the proxy.
        """
        from .browser import _in_notebook

        if not _in_notebook():
            return None
        from IPython.display import HTML, display

        through = f"{base_url}proxy/{self.port}/origin?key={self.key}&origin="
        direct = f"http://127.0.0.1:{self.port}/direct?key={self.key}"
        script = SCRIPT % tuple(  # no "</script>" can come from a base URL
            json.dumps(url).replace("<", "\\u003c") for url in (through, direct)
        )
        handle = display(HTML(script), display_id=True)
        try:
            self._answered.wait(timeout)
        finally:
            handle.update(HTML(""))
        return Answer(self.origin, self.direct) if self.origin else None


#: The browser's side: the direct try (1 s at most), then the origin through the proxy.
SCRIPT = """<div class="oauth-tutorial-origin"></div><script>(function () {
  var told = false;
  function tell() {
    if (told) return;
    told = true;
    fetch(%s + encodeURIComponent(window.location.origin),
          {credentials: "same-origin", cache: "no-store"}).catch(function () {});
  }
  fetch(%s, {mode: "no-cors", cache: "no-store"}).then(tell, tell);
  setTimeout(tell, 1000);
})();</script>"""


@dataclass(frozen=True)
class Answer:
    """What the browser said: its origin, and whether it reached 127.0.0.1 of this machine."""

    origin: str
    direct: bool


# --- kept per Jupyter server ----------------------------------------------------------------------


def _cache_file(server) -> Path | None:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    return Path(jupyter_runtime_dir()) / f"oauth-tutorial-origin-{server.pid}.json"


def remembered(server) -> Answer | None:
    """What the browser said last on ``server`` (this very process), or None."""
    path = _cache_file(server)
    try:
        data = json.loads(path.read_text("utf-8")) if path else {}
    except (OSError, ValueError):
        return None
    origin = parse_origin(data.get("origin")) if data.get("url") == server.url else None
    return Answer(origin, data.get("direct") is True) if origin else None


def remember(server, answer: Answer) -> None:
    path = _cache_file(server)
    if path is not None:
        with contextlib.suppress(OSError):  # then the browser is asked again next time
            data = {"url": server.url, "origin": answer.origin, "direct": answer.direct}
            path.write_text(json.dumps(data), "utf-8")
