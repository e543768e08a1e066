"""The sandbox as an application: its routes, GoTo's paths mapped onto oauthlib's endpoints.

    /oauth/authorize        GET: validate, then a login page and a consent page
    /oauth/login            POST: the login form
    /oauth/consent          GET/POST: the consent page; Allow or Deny
    /oauth/token            POST: authorization_code and refresh_token grants (HTTP Basic)
    /oauth/revoke           POST: RFC 7009 (not documented by GoTo)
    /messaging/v1/messages  POST: send a message (scope messaging.v1.send)
    /identity/v1/Users/me   GET: who am I (any valid token)
    /health                 GET: liveness, and which sandbox this is
    /debug/requests         GET: the last requests and responses, secrets redacted
    /sandbox/...            POST, loopback only: fault switches for teaching and tests

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
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from oauthlib.oauth2 import WebApplicationServer
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from . import pages
from . import validator as policy
from .defaults import DEMO_CLIENT_NAME, DEMO_REDIRECT_URI, DEMO_SCOPES, REALM, SERVICE
from .hub import HubFront
from .pages import error_page, html_response, page
from .resource import ProtectedApi
from .store import Store, digest
from .transport import BadInput, Request, Response, is_loopback, json_response, redirect

log = logging.getLogger("helpers.sandbox")

SESSION_LIFETIME = 8 * 3600
PENDING_LIFETIME = 3600


# --- the application --------------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    client_id: str
    client_secret: str
    user_email: str
    user_password: str


class SandboxApp(ProtectedApi):
    """The authorization server and the protected API (``ProtectedApi``), over one ``Store``."""

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
        self.defaults = policy.Settings(**vars(settings))
        self.demo = demo
        self.url = ""  # set by the server once bound
        self.allowed_hosts: frozenset[str] = frozenset()  # Host headers naming us; ditto
        self.started_at = time.time()
        self.last_activity = time.monotonic()
        self.log: collections.deque[dict] = collections.deque(maxlen=200)
        self._fail_next = 0
        self._lock = threading.Lock()
        self.on_shutdown = None  # set by the runner: callable with no arguments
        self.hub: HubFront | None = None  # set when serving a class behind JupyterHub

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

    # --- fault switches ---------------------------------------------------------------------

    def fail_next_token_request(self, count: int = 1) -> None:
        """The next ``count`` token requests answer 503 temporarily_unavailable."""
        with self._lock:
            self._fail_next = max(0, int(count))

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now; returns how many."""
        return self.store.expire_access_tokens()

    def set_token_lifetimes(
        self,
        *,
        access_token: int | None = None,
        refresh_token: int | None = None,
        code: int | None = None,
    ) -> dict:
        """Lifetimes (seconds) for tokens and codes issued from now on."""
        for value in (access_token, refresh_token, code):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise BadInput("lifetimes are whole numbers of seconds, at least 1")
        if access_token is not None:
            self.settings.access_token_lifetime = access_token
        if refresh_token is not None:
            self.settings.refresh_token_lifetime = refresh_token
        if code is not None:
            self.settings.code_lifetime = code
        return self.lifetimes()

    def reset_faults(self) -> dict:
        """Back to the lifetimes the sandbox started with; no pending failure."""
        with self._lock:
            self._fail_next = 0
        self.settings.access_token_lifetime = self.defaults.access_token_lifetime
        self.settings.refresh_token_lifetime = self.defaults.refresh_token_lifetime
        self.settings.code_lifetime = self.defaults.code_lifetime
        return self.lifetimes()

    def lifetimes(self) -> dict:
        return {
            "access_token": self.settings.access_token_lifetime,
            "refresh_token": self.settings.refresh_token_lifetime,
            "code": self.settings.code_lifetime,
        }

    def _take_failure(self) -> bool:
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return False

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
        # GoTo's own refresh example answers without token_type (GOTO.md); RFC 6749 §5.1 makes
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
            log.info("bad request %s %s: %s", req.method, req.path, exc)
            resp = self._bad_input(req, str(exc))
        except Exception:
            log.error("error handling %s %s\n%s", req.method, req.path, traceback.format_exc())
            resp = self._bad_input(req, "The sandbox could not handle this request.")
        if not req.path.startswith("/debug/"):
            self._record(req, resp, time.perf_counter() - started)
        return resp

    def _answer(self, req: Request) -> Response:
        if self.hub is None:
            return self._misdirected(req) or self._route(req)
        # Behind JupyterHub (helpers/sandbox/hub.py): the prefix's pages, then the progress.
        inner, refused = self.hub.incoming(req)
        if refused is not None:
            return refused
        if inner is not None:
            resp = self.hub.outgoing(self._route(inner))
            req = inner
        else:
            resp = self._misdirected(req) or self._route(req)
        self.hub.observe(self, req, resp)
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
            ("POST", "/oauth/token"): self.token,
            ("POST", "/oauth/revoke"): self.revoke,
            ("POST", "/messaging/v1/messages"): self.send_message,
            ("GET", "/identity/v1/Users/me"): self.who_am_i,
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

    def _new_session_cookie(self) -> tuple[tuple[str, str, None], tuple[str, str]]:
        session_id, csrf = self.store.new_session(SESSION_LIFETIME)
        cookie = (
            f"{self._cookie_name()}={session_id}; Path=/; HttpOnly; SameSite=Lax; "
            f"Max-Age={SESSION_LIFETIME}"
        )
        return (digest(session_id), csrf, None), ("Set-Cookie", cookie)

    def authorize(self, req: Request) -> Response:
        """GET /oauth/authorize: check the request, keep it server-side, show login or consent."""
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
        session_hash, csrf, email = session
        self.store.purge_expired()
        txn = self.store.put_pending(
            session_hash,
            uri=uri,
            scopes=list(scopes),
            client_id=credentials["client_id"],
            redirect_uri=credentials["redirect_uri"],
            state=credentials.get("state"),
            lifetime=PENDING_LIFETIME,
        )
        pending = self.store.get_pending(txn, session_hash)
        if email:
            return self._consent_response(pending, txn, csrf, email, extra)
        return self._login_response(pending, txn, csrf, extra=extra)

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
        if not hmac.compare_digest(form.get("csrf_token", "").encode(), session[1].encode()):
            return None, error_page(
                403,
                "This form was refused",
                "The form's anti-forgery (CSRF) token is missing or wrong, so it may not have "
                "come from this sandbox's own page.",
            )
        return session, None

    def _posted_step(self, req: Request):
        """A login or consent form post: its form, session, txn and pending authorization
        request, or the page that refuses it (no session, bad CSRF token, request gone)."""
        form = req.form()
        session, refused = self._form_session(req, form)
        if refused:
            return refused
        txn = form.get("txn", "")
        pending = self.store.get_pending(txn, session[0])
        if pending is None:
            return self._expired_request()
        return form, session, txn, pending

    def _expired_request(self) -> Response:
        return error_page(
            400,
            "This sign-in request is no longer valid",
            "It expired, or was already completed (each request can be answered once).",
        )

    def login(self, req: Request) -> Response:
        """POST /oauth/login: check the email and password, then go to the consent page."""
        step = self._posted_step(req)
        if isinstance(step, Response):
            return step
        form, (session_hash, csrf, _), txn, pending = step
        user = self.store.check_login(form.get("email", ""), form.get("password", ""))
        if user is None and self.hub is not None:  # a learner's first sign-in on a class hub
            user = self.hub.class_account(
                self.store, form.get("email", ""), form.get("password", "")
            )
        if user is None:
            return self._login_response(
                pending,
                txn,
                csrf,
                message="Wrong email or password. Try again (the demo account is shown below).",
                email=form.get("email", ""),
            )
        self.store.sign_in_session(session_hash, user.email)
        return redirect("/oauth/consent?" + urlencode({"txn": txn}), status=303)

    def consent_page(self, req: Request) -> Response:
        """GET /oauth/consent?txn=...: the Allow/Deny page (or the login page if signed out)."""
        session = self._session(req)
        txn = req.query.get("txn", "")
        pending = self.store.get_pending(txn, session[0]) if session else None
        if pending is None:
            return self._expired_request()
        if not session[2]:
            return self._login_response(pending, txn, session[1])
        return self._consent_response(pending, txn, session[1], session[2])

    def consent(self, req: Request) -> Response:
        """POST /oauth/consent: Allow issues a code; Deny redirects with access_denied."""
        step = self._posted_step(req)
        if isinstance(step, Response):
            return step
        form, (session_hash, _, email), txn, pending = step
        if not email:
            return self._expired_request()
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            raise BadInput("decision must be allow or deny")
        if not self.store.take_pending(txn, session_hash):
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
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype.lower():
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "The body must be application/x-www-form-urlencoded "
                    "(RFC 6749 section 4.1.3).",
                },
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
        if self._take_failure():
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
        headers, out, status = self.oauth.create_token_response(
            self.url + req.target, "POST", body, _oauthlib_headers(req)
        )
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
            "lifetimes": self.lifetimes(),
            "started_at": self.started_at,
        }

    def home(self, req: Request) -> Response:
        body = page(
            "Sandbox",
            "home.html",
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
        if name == "fail-next-token-request":
            self.fail_next_token_request(int(data.get("count", 1)))
            return json_response(200, {"ok": True})
        if name == "expire-access-tokens":
            return json_response(200, {"ok": True, "expired": self.expire_access_tokens()})
        if name == "token-lifetimes":
            allowed = {"access_token", "refresh_token", "code"}
            unknown = set(data) - allowed
            if unknown:
                raise BadInput(f"unknown lifetime(s): {', '.join(sorted(unknown))}")
            return json_response(200, {"ok": True, "lifetimes": self.set_token_lifetimes(**data)})
        if name == "reset":
            return json_response(200, {"ok": True, "lifetimes": self.reset_faults()})
        if name == "shutdown":
            if self.on_shutdown is not None:
                threading.Timer(0.05, self.on_shutdown).start()
            return json_response(200, {"ok": True})
        return json_response(404, {"error": "not_found", "error_description": "No such switch."})

    # --- the debug page ---------------------------------------------------------------------

    def _record(self, req: Request, resp: Response, seconds: float) -> None:
        self.log.append(pages.log_entry(req, resp, seconds))

    def debug_requests(self, req: Request) -> Response:
        """GET /debug/requests: a teaching aid; every secret shows as '…' and its last 4 chars.

        Masked by ``helpers.redact``, as the helpers' traces are, so a screenshot of both
        never shows more of a secret than either alone.
        """
        return pages.requests_page(self.log)


def _oauthlib_headers(req: Request) -> dict[str, str]:
    names = {"authorization": "Authorization", "content-type": "Content-Type"}
    return {names.get(k, k): v for k, v in req.headers.items()}
