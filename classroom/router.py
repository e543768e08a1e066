"""The class callback service: ONE redirect URI for the whole class, and the instructor page.

    # run by JupyterHub as a managed service (classroom/jupyterhub_config.py), e.g.
    python classroom/router.py     # reads JUPYTERHUB_SERVICE_URL, _PREFIX, _API_TOKEN, ...

Routes, under the service's prefix (``/services/oauth-callback/``):

- ``GET  /``: the class's redirect URI. The browser arrives with ``code`` and ``state``; if a
  learner's kernel registered that ``state``, the browser is sent on, once, to that learner's
  listener through jupyter-server-proxy: ``/user/<name>/proxy/<port>/services/oauth-callback/``.
  Any other ``state`` (a forged or replayed callback) is sent nowhere.
- ``POST /api/pending`` ``{"state", "port"}``: a kernel registers its attempt, authenticated as
  its hub user by the token JupyterHub gave its server (``Authorization: token ...``).
- ``GET  /instructor``: each learner's furthest stage, for the instructors group (the hub
  itself refuses everyone without ``access:services`` for this service, which the config grants
  that group; the page checks the group again). Put the hub's admins in the group too.

The stages past "URL built" come from the sandbox's progress file (helpers/sandbox/hub.py).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from jupyterhub.services.auth import HubAuth, HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web

#: The stages of one sign-in, in order; the instructor page shows the furthest.
STAGES = ("URL built", "signed in", "allowed", "denied", "token", "API call", "refresh", "revoke")
RANK = {stage: i for i, stage in enumerate(STAGES)}
RANK["denied"] = RANK["allowed"]  # one step: the consent page's answer
PENDING_LIFETIME = 15 * 60  # seconds a registered attempt waits for its callback


def _digest(state: str) -> str:
    # The service keeps no state in the clear: only what can match an arriving one.
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class Registry:
    """Pending attempts (digest of state -> user, port) and each learner's furthest stage."""

    def __init__(self, events_file: Path | None) -> None:
        self.events_file = events_file
        self._pending: dict[str, tuple[str, int, float]] = {}
        self._built: dict[str, float] = {}
        self._lock = threading.Lock()

    def register(self, user: str, state: str, port: int) -> str | None:
        """Keep the attempt; or say why not (another learner's listener holds the port)."""
        now = time.time()
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v[2] > now}
            for other, other_port, _ in self._pending.values():
                if other_port == port and other != user:
                    return f"port {port} is another learner's: restart your kernel"
            self._pending[_digest(state)] = (user, port, now + PENDING_LIFETIME)
            self._built[user] = now
        return None

    def take(self, state: str) -> tuple[str, int] | None:
        """The learner and port an arriving ``state`` belongs to, once; else None."""
        with self._lock:
            entry = self._pending.pop(_digest(state), None)
        if entry is None or entry[2] < time.time():
            return None
        return entry[0], entry[1]

    def progress(self) -> dict[str, tuple[str, float]]:
        """Each learner's furthest stage and when they reached it."""
        best: dict[str, tuple[str, float]] = {u: ("URL built", t) for u, t in self._built.items()}
        lines: list[str] = []
        if self.events_file is not None and self.events_file.is_file():
            lines = self.events_file.read_text("utf-8").splitlines()
        for line in lines:
            try:
                event = json.loads(line)
                user, stage, when = str(event["user"]), str(event["stage"]), float(event["time"])
            except (ValueError, KeyError, TypeError):
                continue
            if stage not in RANK:
                continue
            current = best.get(user)
            if current is None or RANK[stage] >= RANK[current[0]]:
                best[user] = (stage, when)
        return best


class ClassCallback(web.RequestHandler):
    """GET /: the class redirect URI. Sends the browser on to its own learner's listener."""

    def get(self) -> None:
        state = self.get_argument("state", "")
        found = self.settings["registry"].take(state) if state else None
        if found is None:
            self.set_status(400)
            self.set_header("Cache-Control", "no-store")
            self.finish(
                "<!doctype html><title>Unknown sign-in</title><h1>This sign-in is not one the "
                "class is waiting for</h1><p>No learner's notebook registered this "
                "<code>state</code>, or its callback already arrived: this address was sent "
                "to nobody. Start the sign-in again from your notebook.</p>"
            )
            return
        user, port = found
        target = url_path_join(
            self.settings["hub_base_url"], "user", user, "proxy", str(port), self.settings["prefix"]
        )
        query = {k: self.get_argument(k) for k in self.request.arguments}
        self.set_header("Cache-Control", "no-store")
        self.redirect(target + "?" + urlencode(query))


class Pending(web.RequestHandler):
    """POST /api/pending: a kernel registers the state of its attempt and its listener's port."""

    def check_xsrf_cookie(self) -> None:  # token-authenticated API: no cookies involved
        pass

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        self.finish({"error": getattr(error, "log_message", None) or self._reason})

    async def post(self) -> None:
        auth = self.request.headers.get("Authorization", "").split()
        token = auth[1] if len(auth) == 2 and auth[0].lower() == "token" else ""
        hub_auth = self.settings["hub_auth"]
        model = await hub_auth.user_for_token(token, sync=False) if token else None
        if not model or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "a learner's hub token is needed")
        try:
            data = json.loads(self.request.body or b"{}")
            state, port = str(data["state"]), int(data["port"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, 'send {"state": "...", "port": 12345}') from None
        if not state or not 1024 <= port <= 65535:
            raise web.HTTPError(400, "state must be set and port from 1024 to 65535")
        why = self.settings["registry"].register(model["name"], state, port)
        if why:
            raise web.HTTPError(409, why)
        self.finish({"ok": True})


class Instructor(HubOAuthenticated, web.RequestHandler):
    """GET /instructor: who reached which stage, refreshed every few seconds."""

    @web.authenticated
    def get(self) -> None:
        user = self.current_user
        group = self.settings["instructors_group"]
        if group not in (user.get("groups") or []):
            raise web.HTTPError(403, f"for the {group} group only")
        rows = sorted(self.settings["registry"].progress().items())
        body = "".join(
            f"<tr><td class='learner'>{html.escape(name)}</td>"
            f"<td class='stage'>{html.escape(stage)}</td>"
            f"<td>{time.strftime('%H:%M:%S', time.localtime(when))}</td></tr>"
            for name, (stage, when) in rows
        )
        self.set_header("Cache-Control", "no-store")
        self.finish(
            "<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='5'>"
            "<title>Class progress</title><h1>Class progress</h1>"
            f"<p>Stages, in order: {html.escape(', '.join(STAGES))}. Refreshes every 5 s.</p>"
            "<table><thead><tr><th>Learner</th><th>Furthest stage</th><th>At</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


def make_app(environ=None) -> web.Application:
    env = os.environ if environ is None else environ
    prefix = env["JUPYTERHUB_SERVICE_PREFIX"]
    events = env.get("OAUTH_SANDBOX_EVENTS_FILE")
    hub_oauth = HubOAuth(api_token=env["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    return web.Application(
        [
            (prefix, ClassCallback),
            (url_path_join(prefix, "api/pending"), Pending),
            (url_path_join(prefix, "instructor"), Instructor),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        prefix=prefix,
        hub_base_url=env.get("JUPYTERHUB_BASE_URL", "/"),
        hub_auth=HubAuth(api_token=env["JUPYTERHUB_API_TOKEN"], cache_max_age=60),
        hub_oauth=hub_oauth,
        registry=Registry(Path(events) if events else None),
        instructors_group=env.get("OAUTH_CLASS_INSTRUCTORS_GROUP", "instructors"),
        cookie_secret=os.urandom(32),
        xsrf_cookies=False,
    )


def main() -> None:
    from urllib.parse import urlsplit

    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = make_app()
    # On one machine: loopback only. In a hub pod (http://hub:8771): the pod's interfaces,
    # which the chart's network policy guards.
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    app.listen(url.port, url.hostname if loopback else "")
    loop = ioloop.IOLoop.current()
    # The hub stops a service with SIGINT, then SIGTERM: either ends it quietly, also when it
    # was started with SIGINT ignored (``cmd &`` in a script).
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(signum, loop.stop)
    loop.start()


if __name__ == "__main__":
    main()
