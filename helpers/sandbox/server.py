"""The sandbox as an application: its routes, GoTo's paths mapped onto oauthlib's endpoints.

    /oauth/authorize        GET: validate, then a login page and a consent page
    /oauth/login            POST: the login form
    /oauth/consent          GET/POST: the consent page; Allow or Deny
    /oauth/sign-out         POST: end the browser's session (with its CSRF token)
    /oauth/token            POST: authorization_code and refresh_token grants (HTTP Basic)
    /oauth/revoke           POST: RFC 7009 (not documented by GoTo)
    /messaging/v1/messages  POST: send a message (scope messaging.v1.send)
    /identity/v1/Users/me   GET: who am I (any valid token)
    /health                 GET: liveness, and which sandbox this is
    /debug/requests         GET, its owner only: the last requests and responses, redacted
    /sandbox/...            POST, its owner only: shutdown and fault switches

``SandboxApp.handle`` turns one request into one ``Response`` without any socket code. The rest
lives next door: ``transport`` (requests, responses, the stdlib server), ``pages`` (templates and
the pages), ``resource`` (the bearer check and the API), ``runner`` (building and running one).
"""

from __future__ import annotations

import collections
import hmac
import json
import logging
import os
import secrets
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth2 import WebApplicationServer
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from ..loopback import is_loopback
from ..redact import printable, redact_url
from . import pages
from . import validator as policy
from .defaults import (
    CONTROL_HEADER,
    DEMO_CLIENT_NAME,
    DEMO_REDIRECT_URI,
    DEMO_SCOPES,
    REALM,
    SERVICE,
    STATE_FILE,
    debug_key,
)
from .front import Front
from .pages import error_page, html_response, page
from .resource import ProtectedApi
from .store import Pending, Session, Store, digest
from .switches import OVER_HTTP, Switches
from .throttle import Throttle
from .transport import BadInput, Request, Response, json_response, redirect

log = logging.getLogger("helpers.sandbox")

#: A browser session before sign-in, and a pending authorization request, last an hour; a
#: signed-in session half an hour (then the learner signs in again), or until sign-out.
SESSION_LIFETIME = 3600
SIGNED_IN_LIFETIME = 1800
PENDING_LIFETIME = 3600
#: Caps on what an authorization request may carry; every value is kept until it is answered.
MAX_STATE_CHARS = 512
MAX_AUTHORIZE_CHARS = 2048


# --- the application --------------------------------------------------------------------------


@dataclass(frozen=True)
class PostedStep:
    """A login or consent form post that passed the session, CSRF and pending checks."""

    form: dict[str, str]
    session: Session
    txn: str
    pending: Pending


@dataclass(frozen=True)
class Demo:
    client_id: str
    client_secret: str
    user_email: str
    user_password: str


class SandboxApp:
    """The authorization server and the protected API (``self.api``), over one ``Store``."""

    def __init__(
        self,
        data_dir: str | os.PathLike,
        *,
        demo: Demo,
        settings: policy.Settings,
        users: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.store = Store(self.data_dir)
        self.settings = settings
        self.demo = demo
        self.url = ""  # set by the server once bound
        self.allowed_hosts: frozenset[str] = frozenset()  # Host headers naming us; ditto
        self.started_at = time.time()
        self.last_activity = time.monotonic()
        self.log: collections.deque[dict] = collections.deque(maxlen=200)
        self.switches = Switches(settings, self.store.expire_access_tokens)
        self.on_shutdown = None  # set by the runner: callable with the reason, a string
        #: The secret of /sandbox/... (and, derived from it, of /debug/requests): written only
        #: to the state file, which only the sandbox's owner can read.
        self.control_token = secrets.token_urlsafe(32)
        self.throttle = Throttle()
        #: Set when browsers reach the sign-in pages through a proxy, under a prefix: a class's
        #: hub (hub.HubFront) or jupyter-server-proxy (front.Front).
        self.front: Front | None = None

        self.store.put_client(
            demo.client_id,
            demo.client_secret,
            name=DEMO_CLIENT_NAME,
            redirect_uris=[DEMO_REDIRECT_URI],
            scopes=DEMO_SCOPES,
        )
        self.store.put_user(demo.user_email, demo.user_password, "Demo Learner")
        for email, password in (users or {}).items():
            self.store.put_user(email, password)

        self.validator = policy.SandboxValidator(self.store, settings)
        self.oauth = WebApplicationServer(
            self.validator, token_expires_in=lambda request: self.settings.access_token_lifetime
        )
        auth_grant, refresh_grant = self.oauth.auth_grant, self.oauth.refresh_grant
        auth_grant.custom_validators.pre_auth.append(policy.check_pkce_authorization)
        auth_grant.custom_validators.pre_token.append(policy.check_verifier_syntax)
        auth_grant.custom_validators.post_token.append(policy.make_code_claimer(self.store))
        refresh_grant.custom_validators.post_token.append(
            policy.make_refresh_claimer(self.store, settings)
        )
        for grant in (auth_grant, refresh_grant):
            grant.register_token_modifier(self._add_principal)
        refresh_grant.register_token_modifier(self._like_gotos_refresh_answer)
        refresh_grant.issue_new_refresh_tokens = settings.rotate
        self.api = ProtectedApi(self.oauth, self.store, lambda: self.url)

    def add_user(self, email: str, password: str, display_name: str | None = None) -> None:
        self.store.put_user(email, password, display_name)

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        redirect_uris: list[str],
        scopes: list[str],
        name: str | None = None,
    ) -> None:
        self.store.put_client(
            client_id,
            client_secret,
            name=name or client_id,
            redirect_uris=redirect_uris,
            scopes=scopes,
        )

    @staticmethod
    def _add_principal(token, token_handler, request):
        # GoTo's token responses name the signed-in user.
        token["principal"] = request.user
        return token

    def _like_gotos_refresh_answer(self, token, token_handler, request):
        # GoTo's own refresh example answers without token_type (docs/goto.md); RFC 6749 §5.1 makes
        # it required, so clients must cope. "rotate" mode stays RFC-shaped.
        if not self.settings.rotate:
            token.pop("token_type", None)
        return token

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        """Answer one request; record it (redacted) for the debug page. Never raises."""
        self.last_activity = time.monotonic()
        started = time.perf_counter()
        try:
            resp = self._answer(req)
        except (BadInput, UnicodeDecodeError, ValueError) as exc:
            log.info("bad request %s %s: %s", req.method, printable(req.path), printable(str(exc)))
            resp = self._bad_input(req, str(exc))
        except Exception:
            log.error(
                "error handling %s %s\n%s", req.method, printable(req.path), traceback.format_exc()
            )
            resp = self._bad_input(req, "The sandbox could not handle this request.")
        seconds = time.perf_counter() - started
        if log.isEnabledFor(logging.DEBUG):  # -v: every request, one line, secrets masked
            log.debug(
                "%s %s %s %d %.1f ms",
                req.peer,
                printable(req.method),
                printable(redact_url(req.target), 500),
                resp.status,
                seconds * 1000,
            )
        if not self._reads_the_log(req):
            self._record(req, resp, seconds)
        return resp

    def _reads_the_log(self, req: Request) -> bool:
        """Whether ``req`` is for /debug/..., here or under a proxy's prefix (front.py): the log
        does not show its own readings."""
        prefix = self.front.prefix if self.front else ""
        path = req.path
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        return path.startswith("/debug/")

    def _answer(self, req: Request) -> Response:
        if self.front is None:
            return self._misdirected(req) or self._route(req)
        # Behind a proxy (front.py, hub.py): the prefix's pages, then a class's progress.
        inner, refused = self.front.incoming(req)
        if refused is not None:
            return refused
        if inner is not None:
            resp = self.front.outgoing(self._route(inner))
            req = inner
        else:
            resp = self._misdirected(req) or self._route(req)
        self.front.observe(self, req, resp)
        return resp

    def _misdirected(self, req: Request) -> Response | None:
        """421 unless the Host header names this sandbox (127.0.0.1, localhost, [::1]: its port).

        A page on evil.example can make its own name resolve to 127.0.0.1 (DNS rebinding) and
        then read this server's answers as same-origin, /debug/requests included; its requests
        still say ``Host: evil.example``. (Host is mandatory in HTTP/1.1, RFC 9112 §3.2.)
        """
        host = req.headers.get("host", "").strip().lower()
        if host in self.allowed_hosts:
            return None
        return json_response(
            421,
            {
                "error": "invalid_request",
                "error_description": "This is the OAuth sandbox at "
                f"{self.url}; it answers only requests addressed to it (Host header).",
            },
        )

    def _own_origins(self) -> set[str]:
        return {"http://" + host for host in self.allowed_hosts}

    def _bad_input(self, req: Request, why: str) -> Response:
        if req.path.startswith("/oauth/authorize") or req.path in (
            "/oauth/login",
            "/oauth/consent",
            "/oauth/sign-out",
        ):
            return error_page(400, "Bad request", why)
        return json_response(400, {"error": "invalid_request", "error_description": why})

    def _route(self, req: Request) -> Response:
        path, method = req.path, req.method
        routes = {
            ("GET", "/oauth/authorize"): self.authorize,
            ("POST", "/oauth/login"): self.login,
            ("GET", "/oauth/consent"): self.consent_page,
            ("POST", "/oauth/consent"): self.consent,
            ("POST", "/oauth/sign-out"): self.sign_out,
            ("POST", "/oauth/token"): self.token,
            ("POST", "/oauth/revoke"): self.revoke,
            ("POST", "/messaging/v1/messages"): self.api.send_message,
            ("GET", "/identity/v1/Users/me"): self.api.who_am_i,
            ("GET", "/health"): self.health,
            ("GET", "/debug/requests"): self.debug_requests,
            ("GET", "/"): self.home,
        }
        if method == "HEAD":
            method = "GET"
        handler = routes.get((method, path))
        if handler is not None:
            return handler(req)
        if path.startswith("/sandbox/"):
            return self.control(req)
        if any(p == path for (_, p) in routes):
            allowed = ", ".join(sorted({m for (m, p) in routes if p == path}))
            return json_response(
                405,
                {"error": "invalid_request", "error_description": f"Use {allowed} here."},
                [("Allow", allowed)],
            )
        return json_response(404, {"error": "not_found", "error_description": f"No {path} here."})

    # --- the authorization endpoint: validate, login, consent -------------------------------

    def _cookie_name(self) -> str:
        port = urlsplit(self.url).port or 0
        # Cookies ignore ports: name ours by port so two sandboxes on 127.0.0.1 do not collide.
        return f"oauth_sandbox_{port}"

    def _session(self, req: Request):
        return self.store.get_session(req.cookie(self._cookie_name()))

    def _new_session_cookie(self) -> tuple[Session, tuple[str, str]]:
        """A new session nobody signed in to, and the header that sets it."""
        session_id, csrf = self.store.new_session(SESSION_LIFETIME)
        return Session(digest(session_id), csrf), self._session_cookie(session_id, SESSION_LIFETIME)

    def _session_cookie(self, value: str, lifetime: int) -> tuple[str, str]:
        cookie = (
            f"{self._cookie_name()}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={lifetime}"
        )
        return ("Set-Cookie", cookie)

    def authorize(self, req: Request) -> Response:
        """GET /oauth/authorize: check the request, keep it server-side, show login or consent."""
        too_long = _too_long(req)
        if too_long:
            return error_page(400, "This sign-in request is too long", too_long)
        uri = self.url + req.target
        try:
            scopes, credentials = self.oauth.validate_authorization_request(
                uri, "GET", None, req.headers
            )
        except oauth_errors.FatalClientError as exc:
            # RFC 6749 §4.1.2.1: unknown client or unregistered redirect URI: never redirect.
            return error_page(
                400,
                "This application's request is not valid",
                f"{exc.error}: {exc.description}",
                "The client_id is unknown, or the redirect_uri is not registered for this "
                "client. The sandbox will not send you to an address it cannot vouch for "
                "(RFC 6749 §4.1.2.1). Check OAUTH_CLIENT_ID and OAUTH_REDIRECT_URI.",
            )
        except oauth_errors.OAuth2Error as exc:
            return redirect(exc.in_uri(exc.redirect_uri))
        session = self._session(req)
        extra = []
        if session is None:
            session, cookie = self._new_session_cookie()
            extra.append(cookie)
        self.store.purge_expired()
        txn = self.store.put_pending(
            session.hash,
            uri=uri,
            scopes=list(scopes),
            client_id=credentials["client_id"],
            redirect_uri=credentials["redirect_uri"],
            state=credentials.get("state"),
            lifetime=PENDING_LIFETIME,
        )
        pending = self.store.get_pending(txn, session.hash)
        if session.email:
            return self._consent_response(pending, txn, session.csrf, session.email, extra)
        return self._login_response(pending, txn, session.csrf, extra=extra)

    def _client_name(self, client_id: str) -> str:
        client = self.store.get_client(client_id)
        return policy.client_label(client) if client else client_id

    def _login_response(self, pending, txn, csrf, *, message="", email="", extra=None, status=200):
        return pages.login_page(
            client_name=self._client_name(pending.client_id),
            csrf=csrf,
            txn=txn,
            demo_email=self.demo.user_email,
            demo_password=self.demo.user_password,
            message=message,
            email=email,
            extra=extra,
            status=status,
        )

    def _consent_response(self, pending, txn, csrf, email, extra=None) -> Response:
        return pages.consent_page(
            client_name=self._client_name(pending.client_id),
            scopes=pending.scopes,
            email=email,
            redirect_uri=pending.redirect_uri,
            csrf=csrf,
            txn=txn,
            extra=extra,
        )

    def _form_session(self, req: Request, form: dict[str, str]):
        """The session of a form post, after the CSRF check; or an error page."""
        session = self._session(req)
        if session is None:
            return None, error_page(
                403,
                "Your sign-in session was not found",
                "This form arrived without the sandbox's session cookie (cookies blocked, or the "
                "session expired).",
            )
        if not hmac.compare_digest(form.get("csrf_token", "").encode(), session.csrf.encode()):
            return None, error_page(
                403,
                "This form was refused",
                "The form's anti-forgery (CSRF) token is missing or wrong, so it may not have "
                "come from this sandbox's own page.",
            )
        return session, None

    def _posted_step(self, req: Request) -> tuple[PostedStep | None, Response | None]:
        """A login or consent form post, checked: (the step, None), or (None, the page that
        refuses it: no session, bad CSRF token, request gone)."""
        form = req.form()
        session, refused = self._form_session(req, form)
        if refused:
            return None, refused
        txn = form.get("txn", "")
        pending = self.store.get_pending(txn, session.hash)
        if pending is None:
            return None, self._expired_request()
        return PostedStep(form, session, txn, pending), None

    def _expired_request(self) -> Response:
        return error_page(
            400,
            "This sign-in request is no longer valid",
            "It expired, or was already completed (each request can be answered once).",
        )

    def login(self, req: Request) -> Response:
        """POST /oauth/login: check the email and password, then go to the consent page."""
        step, refused = self._posted_step(req)
        if refused:
            return refused
        email = step.form.get("email", "")
        keys = ("account:" + email.strip().lower(), "session:" + step.session.hash)
        wait = self.throttle.wait_left(keys)
        if wait > 0:
            seconds = max(1, round(wait))
            return self._login_response(
                step.pending,
                step.txn,
                step.session.csrf,
                message=f"Too many wrong passwords for this account or browser: wait {seconds} "
                f"second{'s' if seconds != 1 else ''}, then try again.",
                email=email,
                status=429,
                extra=[("Retry-After", str(seconds))],
            )
        user = self.store.check_login(email, step.form.get("password", ""))
        if user is None and self.front is not None:  # a learner's first sign-in on a class hub
            user = self.front.class_account(self.store, email, step.form.get("password", ""))
        if user is None:
            self.throttle.failed(keys)
            return self._login_response(
                step.pending,
                step.txn,
                step.session.csrf,
                message="Wrong email or password. Try again (the demo account is shown below).",
                email=email,
            )
        self.throttle.succeeded(keys)
        # A new session id and CSRF token at sign-in; the old id, which a page on another
        # loopback port could have planted (cookies ignore ports, RFC 6265 §8.5), ends here.
        session_id, _ = self.store.sign_in(step.session.hash, user.email, SIGNED_IN_LIFETIME)
        cookie = self._session_cookie(session_id, SIGNED_IN_LIFETIME)
        return redirect(
            "/oauth/consent?" + urlencode({"txn": step.txn}), status=303, extra=[cookie]
        )

    def sign_out(self, req: Request) -> Response:
        """POST /oauth/sign-out (with the page's CSRF token): end this browser's session."""
        if self._session(req) is not None:  # else already signed out: nothing to forge
            session, refused = self._form_session(req, req.form())
            if refused:
                return refused
            self.store.end_session(session.hash)
        return html_response(
            200,
            page("Signed out", "signed_out.html"),
            [self._session_cookie("", 0)],
        )

    def consent_page(self, req: Request) -> Response:
        """GET /oauth/consent?txn=...: the Allow/Deny page (or the login page if signed out)."""
        session = self._session(req)
        txn = req.query.get("txn", "")
        pending = self.store.get_pending(txn, session.hash) if session else None
        if pending is None:
            return self._expired_request()
        if not session.email:
            return self._login_response(pending, txn, session.csrf)
        return self._consent_response(pending, txn, session.csrf, session.email)

    def consent(self, req: Request) -> Response:
        """POST /oauth/consent: Allow issues a code; Deny redirects with access_denied."""
        step, refused = self._posted_step(req)
        if refused:
            return refused
        email, pending = step.session.email, step.pending
        if not email:
            return self._expired_request()
        decision = step.form.get("decision")
        if decision not in ("allow", "deny"):
            raise BadInput("decision must be allow or deny")
        if not self.store.take_pending(step.txn, step.session.hash):
            return self._expired_request()
        if decision == "deny":
            error = oauth_errors.AccessDeniedError(
                description="The user denied access on the consent page.", state=pending.state
            )
            return redirect(error.in_uri(pending.redirect_uri))
        try:
            headers, _, _ = self.oauth.create_authorization_response(
                pending.uri, "GET", None, None, list(pending.scopes), {"user": email}
            )
        except oauth_errors.FatalClientError as exc:
            return error_page(400, "This application's request is not valid", exc.description)
        return redirect(headers["Location"])

    # --- token and revocation endpoints -----------------------------------------------------

    def _form_check(self, req: Request) -> Response | None:
        """A form body, each parameter at most once (RFC 6749 §3.2: "Request and response
        parameters MUST NOT be included more than once"); else invalid_request."""
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype.lower():
            return _invalid_request(
                "The body must be application/x-www-form-urlencoded (RFC 6749 section 4.1.3)."
            )
        names = [name for name, _ in parse_qsl(req.body.decode("utf-8"), keep_blank_values=True)]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            return _invalid_request(
                f"Repeated parameter: {printable(', '.join(repeated), 100)}. Send each parameter "
                "once (RFC 6749 section 3.2)."
            )
        return None

    def _oauth_response(self, headers, body, status) -> Response:
        resp = Response(status, (body or "").encode("utf-8"), list((headers or {}).items()))
        if status == 401:
            # RFC 6749 §5.2: the challenge uses the scheme the client authenticates with.
            resp.set_header("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
        if body and not resp.header("Content-Type"):
            resp.set_header("Content-Type", "application/json")
        resp.set_header("Cache-Control", "no-store")
        return resp

    def token(self, req: Request) -> Response:
        """POST /oauth/token: oauthlib's token endpoint, behind the strictness layer."""
        if self.switches.take_failure():
            return json_response(
                503,
                {
                    "error": "temporarily_unavailable",
                    "error_description": "The sandbox was told to fail this token request "
                    "(a fault switch). Try again.",
                },
                [("Retry-After", "1")],
            )
        refused = self._form_check(req)
        if refused:
            return refused
        body = req.body.decode("utf-8")
        try:
            headers, out, status = self.oauth.create_token_response(
                self.url + req.target, "POST", body, _oauthlib_headers(req)
            )
        except oauth_errors.OAuth2Error as exc:  # raised, not answered: a query string
            headers, out, status = exc.headers, exc.json, exc.status_code
        return self._oauth_response(headers, out, status)

    def revoke(self, req: Request) -> Response:
        """POST /oauth/revoke: RFC 7009. GoTo documents no revocation endpoint (UNCONFIRMED)."""
        refused = self._form_check(req)
        if refused:
            return refused
        headers, out, status = self.oauth.create_revocation_response(
            self.url + req.target, "POST", req.body.decode("utf-8"), _oauthlib_headers(req)
        )
        return self._oauth_response(headers, out, status)

    # --- the rest ---------------------------------------------------------------------------

    def health(self, req: Request) -> Response:
        return json_response(200, self.health_data())

    def health_data(self) -> dict:
        return {
            "status": "ok",
            "service": SERVICE,
            "pid": os.getpid(),
            "url": self.url,
            "data_dir": str(self.data_dir),
            "client_id": self.demo.client_id,
            "user_email": self.demo.user_email,
            "refresh_mode": self.settings.refresh_mode,
            "lifetimes": self.switches.lifetimes(),
            "started_at": self.started_at,
        }

    def home(self, req: Request) -> Response:
        session = self._session(req)
        account = (
            pages.signed_in_line(session.email, session.csrf) if session and session.email else ""
        )
        body = page(
            "Sandbox",
            "home.html",
            raw={"account": account},
            client_id=self.demo.client_id,
            user_email=self.demo.user_email,
        )
        return html_response(200, body)

    def control(self, req: Request) -> Response:
        """POST /sandbox/<switch>, from this machine only, with an ``application/json`` body.

        A web page in the learner's browser can POST here without a CORS preflight only with a
        form-like media type (``text/plain; charset=json`` included), so the media type must be
        exactly ``application/json``, which needs a preflight this server never grants. A
        browser also names the page's origin: any but the sandbox's own is refused.
        """
        if not is_loopback(req.peer):
            return json_response(
                403, {"error": "forbidden", "error_description": "Loopback callers only."}
            )
        given = req.headers.get(CONTROL_HEADER.lower(), "")
        if not hmac.compare_digest(given.encode(), self.control_token.encode()):
            return json_response(
                403,
                {
                    "error": "forbidden",
                    "error_description": "Only this sandbox's owner may stop it or flip its "
                    f"switches: send the control token from its state file ({STATE_FILE} in "
                    f"its data folder, readable by its owner only) in the {CONTROL_HEADER} "
                    "header. helpers.sandbox.faults(url) and `python -m helpers.sandbox stop` "
                    "do that for you.",
                },
            )
        origin = req.headers.get("origin")
        if origin is not None and origin.lower() not in self._own_origins():
            return json_response(
                403,
                {
                    "error": "forbidden",
                    "error_description": "Fault switches are not for other web pages.",
                },
            )
        media_type = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if req.method != "POST" or media_type != "application/json":
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "POST a JSON object here (Content-Type: "
                    "application/json).",
                },
            )
        data = json.loads(req.body.decode("utf-8") or "{}")
        if not isinstance(data, dict):
            raise BadInput("the body must be a JSON object")
        name = req.path[len("/sandbox/") :]
        if name in OVER_HTTP:
            return json_response(200, {"ok": True, "result": self.switches.call(name, data)})
        if name == "shutdown":
            who = printable(str(data.get("by") or "an unnamed client"), 200)
            reason = f"shutdown requested by {who} from {req.peer}"
            if self.on_shutdown is not None:
                threading.Timer(0.05, self.on_shutdown, [reason]).start()
            return json_response(200, {"ok": True})
        return json_response(404, {"error": "not_found", "error_description": "No such switch."})

    # --- the debug page ---------------------------------------------------------------------

    def _record(self, req: Request, resp: Response, seconds: float) -> None:
        self.log.append(pages.log_entry(req, resp, seconds))

    def debug_requests(self, req: Request) -> Response:
        """GET /debug/requests: a teaching aid for the sandbox's owner; every secret shows as
        '…' and its last 4 characters (``helpers.redact``, as the helpers' traces).

        Only its owner may read it: the page shows who signs in, from which client, to which
        redirect URI. The owner's link carries a key derived from the control token
        (``SandboxInfo.debug_url``, ``python -m helpers.sandbox debug-link``, the notebooks'
        ``show_request_log``); the page swaps it for a cookie at once, so the key leaves the
        address bar and the history (under a proxy's prefix, ``front.Front`` moves the
        cookie's Path there too).
        """
        key = debug_key(self.control_token)
        given = req.query.get("key")
        if given is not None and hmac.compare_digest(given.encode(), key.encode()):
            cookie = (
                f"{self._cookie_name()}_debug={key}; Path=/debug/; HttpOnly; SameSite=Strict; "
                f"Max-Age={SIGNED_IN_LIFETIME}"
            )
            return redirect("/debug/requests", status=303, extra=[("Set-Cookie", cookie)])
        if not self.may_read_debug(req):
            return pages.debug_refused_page()
        return pages.requests_page(self.log)

    def may_read_debug(self, req: Request) -> bool:
        """Whether this request may read /debug/requests: here, a browser holding the owner's
        page cookie. (A shared server replaces this rule with its own: e.g. the user it runs
        for and the instructors.)"""
        held = req.cookie(f"{self._cookie_name()}_debug") or ""
        return hmac.compare_digest(held.encode(), debug_key(self.control_token).encode())


def _too_long(req: Request) -> str:
    """Why an authorization request is too long to keep, or "" (each is stored until used)."""
    states = [v for k, v in parse_qsl(urlsplit(req.target).query) if k == "state"]
    longest = max((len(v) for v in states), default=0)
    if longest > MAX_STATE_CHARS:
        return (
            f"Its state parameter has {longest} characters; this sandbox keeps at most "
            f"{MAX_STATE_CHARS}. A random value of 32 bytes or so is plenty (RFC 6749 section "
            "10.12): check how the application makes it."
        )
    if len(req.target) > MAX_AUTHORIZE_CHARS:
        return (
            f"The request has {len(req.target)} characters; this sandbox keeps at most "
            f"{MAX_AUTHORIZE_CHARS}. Check the parameters the application adds."
        )
    return ""


def _invalid_request(description: str) -> Response:
    return json_response(400, {"error": "invalid_request", "error_description": description})


def _oauthlib_headers(req: Request) -> dict[str, str]:
    names = {"authorization": "Authorization", "content-type": "Content-Type"}
    return {names.get(k, k): v for k, v in req.headers.items()}
