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
- ``POST /api/report`` ``{"error", "message"}`` or ``{"exercise", "status"}``: a kernel reports
  the tutorial error its learner was just shown, or an exercise's check (helpers/hub.py); the
  same authentication. Each endpoint takes ``REQUESTS_PER_MINUTE`` per learner, then answers 429
  with ``Retry-After``.
- ``GET  /instructor`` (and ``/instructor.json``, its twin for scripts, which send an
  instructor's hub token as ``Authorization: token ...``): the whole class from the hub's list
  of users, each learner's furthest stage, last error and exercises, who is stuck longest first
  (classroom/roster.py). For the instructors group and the hub's admins (the hub itself refuses
  everyone without ``access:services`` for this service, which the config grants that group
  and JupyterHub's admin role has; the page checks again).

The stages past "URL built" come from the sandbox's progress file (helpers/sandbox/hub.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import signal
import threading
import time
from collections import deque
from pathlib import Path
from urllib.parse import quote, urlencode

from jupyterhub.log import log_request
from jupyterhub.services.auth import HubAuth, HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from roster import Progress, as_json, render_html, roster  # beside this file
from tornado import ioloop, web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

PENDING_LIFETIME = 15 * 60  # seconds a registered attempt waits for its callback
#: What a kernel's report may hold: a class name, a short message, an exercise's number.
ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
EXERCISE = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}")
RESULTS = ("right", "wrong")
#: Seconds the hub's list of the class is kept: the page refreshes every 5 s, the list changes
#: when the teacher restarts the hub (and each answer costs the hub ~0.1 s for 200 users).
CLASS_LIST_MAX_AGE = 60
MESSAGE_LIMIT = 300
#: Registrations, and reports, one learner's kernels may send in a minute (each): a few a
#: minute is a busy learner; a cell posting in a loop is cut off (429) before it fills the
#: service's file and slows it for the class.
REQUESTS_PER_MINUTE = 30
#: Attempts one learner may have waiting for their callback; a new one drops their oldest.
PENDING_PER_LEARNER = 20
#: The largest request body the service reads (a report or a registration is under 1 KiB).
MAX_BODY = 16 * 1024


def _digest(state: str) -> str:
    # The service keeps no state in the clear: only what can match an arriving one.
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class Registry:
    """Pending attempts: digest of state -> (user, port, expiry). Each registration is the
    learner's "URL built" in ``progress``."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._pending: dict[str, tuple[str, int, float]] = {}
        self._lock = threading.Lock()

    def register(self, user: str, state: str, port: int) -> str | None:
        """Keep the attempt; or say why not (another learner's listener holds the port)."""
        now = time.time()
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v[2] > now}
            for other, other_port, _ in self._pending.values():
                if other_port == port and other != user:
                    return f"port {port} is another learner's: restart your kernel"
            held = self._pending.get(_digest(state))
            if held and held[0] != user:  # someone copied a learner's link: not theirs to take
                return "this state is another learner's: start the sign-in again"
            theirs = [k for k, v in self._pending.items() if v[0] == user]  # oldest first
            for oldest in theirs[: max(0, len(theirs) + 1 - PENDING_PER_LEARNER)]:
                del self._pending[oldest]
            self._pending[_digest(state)] = (user, port, now + PENDING_LIFETIME)
        self.progress.record(user, stage="URL built")
        return None

    def take(self, state: str) -> tuple[str, int] | None:
        """The learner and port an arriving ``state`` belongs to, once; else None."""
        with self._lock:
            entry = self._pending.pop(_digest(state), None)
        if entry is None or entry[2] < time.time():
            return None
        return entry[0], entry[1]


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
        name = quote(user, safe="@~")  # as JupyterHub quotes a name in its own URLs
        base = self.settings["hub_base_url"]
        target = url_path_join(base, "user", name, "proxy", str(port), self.settings["prefix"])
        query = {k: self.get_argument(k) for k in self.request.arguments}
        self.set_header("Cache-Control", "no-store")
        self.redirect(target + "?" + urlencode(query))


class KernelAPI(web.RequestHandler):
    """What a learner's kernel posts: JSON, authenticated by its server's hub token."""

    def check_xsrf_cookie(self) -> None:  # token-authenticated API: no cookies involved
        pass

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        self.finish({"error": getattr(error, "log_message", None) or self._reason})

    async def learner(self) -> str:
        """The hub user whose token came with the request; else 403."""
        auth = self.request.headers.get("Authorization", "").split()
        token = auth[1] if len(auth) == 2 and auth[0].lower() == "token" else ""
        hub_auth = self.settings["hub_auth"]
        model = await hub_auth.user_for_token(token, sync=False) if token else None
        if not model or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "a learner's hub token is needed")
        return model["name"]

    def too_many(self, user: str) -> bool:
        """Answer 429 (and say so) when ``user`` sent ``REQUESTS_PER_MINUTE`` of these in the
        last minute; else count this one."""
        recent = self.settings["recent"].setdefault((user, type(self).__name__), deque())
        now = time.monotonic()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) < REQUESTS_PER_MINUTE:
            recent.append(now)
            return False
        self.set_status(429)
        self.set_header("Retry-After", str(max(1, math.ceil(recent[0] + 60 - now))))
        self.finish({"error": f"at most {REQUESTS_PER_MINUTE} a minute: wait, then try again"})
        return True

    def body(self, usage: str) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise web.HTTPError(400, f"send {usage}")
        return data


class Pending(KernelAPI):
    """POST /api/pending: a kernel registers the state of its attempt and its listener's port."""

    async def post(self) -> None:
        user = await self.learner()
        if self.too_many(user):
            return
        usage = '{"state": "...", "port": 12345}'
        try:
            data = self.body(usage)
            state, port = str(data["state"]), int(data["port"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, f"send {usage}") from None
        if not state or not 1024 <= port <= 65535:
            raise web.HTTPError(400, "state must be set and port from 1024 to 65535")
        why = self.settings["registry"].register(user, state, port)
        if why:
            raise web.HTTPError(409, why)
        self.finish({"ok": True})


class Report(KernelAPI):
    """POST /api/report: the error a learner was shown, or an exercise's check, for the
    instructor page. Names and short texts only; the page escapes them."""

    async def post(self) -> None:
        user = await self.learner()
        if self.too_many(user):
            return
        usage = '{"error": "ClassName", "message": "..."} or {"exercise": "2.1", "status": "right"}'
        data = self.body(usage)
        error, exercise = data.get("error"), data.get("exercise")
        message, status = data.get("message", ""), data.get("status")
        if isinstance(error, str) and ERROR_NAME.fullmatch(error) and isinstance(message, str):
            event = {"error": error, "message": message[:MESSAGE_LIMIT]}
        elif isinstance(exercise, str) and EXERCISE.fullmatch(exercise) and status in RESULTS:
            event = {"exercise": exercise, "status": status}
        else:
            raise web.HTTPError(400, f"send {usage}")
        self.settings["progress"].record(user, **event)
        self.finish({"ok": True})


class Instructor(HubOAuthenticated, web.RequestHandler):
    """GET /instructor (HTML, refreshed every few seconds) and /instructor.json: the class."""

    @web.authenticated
    async def get(self, suffix: str = "") -> None:
        user = self.current_user
        group = self.settings["instructors_group"]
        if group not in (user.get("groups") or []) and not user.get("admin"):
            raise web.HTTPError(403, f"for the {group} group and the hub's admins only")
        names, note = await class_learners(self.settings)
        rows = roster(self.settings["progress"].learners(), names)
        self.set_header("Cache-Control", "no-store")
        if suffix == ".json":
            self.finish(as_json(rows, note))
        else:
            self.finish(render_html(rows, note))


async def class_learners(settings) -> tuple[list[str] | None, str]:
    """The class's learners, from the hub's REST API: its users, less the instructors group and
    the hub's admins, kept ``CLASS_LIST_MAX_AGE`` seconds. Or (None, why) when the hub cannot
    say (and the next call asks again).

    The service's own token needs ``list:users``, ``read:users:name`` (names and the admin
    flag) and ``read:groups!group=<the group>`` (classroom/jupyterhub_config.py grants them).
    """
    kept = settings["class_list"]
    if kept and kept[0] > time.monotonic() - CLASS_LIST_MAX_AGE:
        return kept[1], ""
    api, group = settings["hub_api_url"], settings["instructors_group"]
    headers = {
        "Authorization": f"token {settings['hub_api_token']}",
        "Accept": "application/jupyterhub-pagination+json",
    }
    client = AsyncHTTPClient()
    try:
        answer = await client.fetch(
            url_path_join(api, "groups", quote(group, safe="")), headers=headers, raise_error=False
        )
        if answer.code not in (200, 404):  # 404: nobody is in the group yet
            answer.rethrow()
        instructors = set(json.loads(answer.body)["users"]) if answer.code == 200 else set()
        users, offset = [], 0
        while offset is not None:
            answer = await client.fetch(
                url_path_join(api, f"users?offset={offset}&limit=200"), headers=headers
            )
            page = json.loads(answer.body)
            users += page["items"]
            offset = (page["_pagination"].get("next") or {}).get("offset")
    except (OSError, HTTPClientError, ValueError, KeyError, TypeError) as e:
        return None, (
            f"The hub's list of users could not be read ({e}): only learners who have started "
            "are shown. Check the oauth-callback service's role in jupyterhub_config.py."
        )
    learners = [u["name"] for u in users if u["name"] not in instructors and not u.get("admin")]
    kept[:] = [time.monotonic(), sorted(learners)]
    return kept[1], ""


def make_app(environ=None) -> web.Application:
    env = os.environ if environ is None else environ
    prefix = env["JUPYTERHUB_SERVICE_PREFIX"]
    events = env.get("OAUTH_SANDBOX_EVENTS_FILE")
    reports = env.get("OAUTH_CLASS_EVENTS_FILE")
    progress = Progress(Path(reports) if reports else None, Path(events) if events else None)
    hub_auth = HubAuth(api_token=env["JUPYTERHUB_API_TOKEN"], cache_max_age=60)
    return web.Application(
        [
            (prefix, ClassCallback),
            (url_path_join(prefix, "api/pending"), Pending),
            (url_path_join(prefix, "api/report"), Report),
            (url_path_join(prefix, "instructor") + r"(\.json)?", Instructor),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        prefix=prefix,
        hub_base_url=env.get("JUPYTERHUB_BASE_URL", "/"),
        hub_auth=hub_auth,
        hub_oauth=HubOAuth(api_token=env["JUPYTERHUB_API_TOKEN"], cache_max_age=60),
        hub_api_url=hub_auth.api_url,
        hub_api_token=env["JUPYTERHUB_API_TOKEN"],
        progress=progress,
        class_list=[],  # [when, names]: the hub's last answer
        registry=Registry(progress),
        recent={},  # (user, endpoint) -> when their requests of the last minute came
        instructors_group=env.get("OAUTH_CLASS_INSTRUCTORS_GROUP", "instructors"),
        cookie_secret=os.urandom(32),
        log_function=log_request,  # JupyterHub's: code and state in a logged URL become [secret]
        xsrf_cookies=False,
    )


def listen(app: web.Application, port: int, address: str):
    """Serve ``app``, reading request bodies up to ``MAX_BODY`` (a larger one gets 400)."""
    return app.listen(port, address, max_body_size=MAX_BODY)


def main() -> None:
    from urllib.parse import urlsplit

    url = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = make_app()
    # On one machine: loopback only. In a hub pod (http://hub:8771): the pod's interfaces,
    # which the chart's network policy guards.
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    listen(app, url.port, url.hostname if loopback else "")
    loop = ioloop.IOLoop.current()
    # The hub stops a service with SIGINT, then SIGTERM: either ends it quietly, also when it
    # was started with SIGINT ignored (``cmd &`` in a script).
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.asyncio_loop.add_signal_handler(signum, loop.stop)
    loop.start()


if __name__ == "__main__":
    main()
