"""The sandbox's HTTP side: GoTo's routes mapped onto oauthlib's endpoints, plus the pages.

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

``SandboxApp.handle`` turns one request into one ``Response`` without any socket code; the
stdlib ``ThreadingHTTPServer`` below only moves bytes, writing each response in one send.
"""

from __future__ import annotations

import collections
import html
import ipaddress
import json
import logging
import os
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from string import Template
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth2 import WebApplicationServer
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from ..redact import redact_body, redact_header, redact_url
from . import validator as policy
from .store import Store

log = logging.getLogger("helpers.sandbox")

SERVICE = "goto-oauth-sandbox"
REALM = "GoTo OAuth sandbox"
STATE_FILE = "sandbox.json"
MAX_BODY = 1024 * 1024
MAX_SHOWN = 4000  # characters of a body kept for the debug page
SESSION_LIFETIME = 8 * 3600
PENDING_LIFETIME = 3600
E164_RE = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAX_MESSAGE_CHARS = 1000


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        self.headers.append((name, value))


@dataclass
class Request:
    method: str
    target: str  # path and query, as received
    headers: dict[str, str]  # lower-cased names
    body: bytes
    peer: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def cookie(self, name: str) -> str | None:
        # Parsed by hand: http.cookies gives up on the whole header at the first cookie it
        # dislikes, and 127.0.0.1 also carries Jupyter's (and any local app's) cookies.
        for part in self.headers.get("cookie", "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value.strip().strip('"') or None
        return None


class BadInput(Exception):
    """The request itself is at fault: answered 400, never 500."""


# --- pages ------------------------------------------------------------------------------------

_TEMPLATES: dict[str, Template] = {}


def template(name: str) -> Template:
    if name not in _TEMPLATES:
        text = resources.files("helpers.sandbox").joinpath("templates", name).read_text("utf-8")
        _TEMPLATES[name] = Template(text)
    return _TEMPLATES[name]


def page(title: str, name: str, *, wide: bool = False, raw: dict | None = None, **values) -> bytes:
    """Render a template; every value is HTML-escaped except the pre-built ``raw`` fragments."""
    escaped = {k: html.escape(str(v), quote=True) for k, v in values.items()}
    escaped.update(raw or {})
    content = template(name).substitute(escaped)
    return (
        template("layout.html")
        .substitute(title=html.escape(title), content=content, main_class="wide" if wide else "")
        .encode("utf-8")
    )


HTML_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    # No form-action: browsers apply it to the redirect after Allow, which leaves this origin.
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),  # the consent page must not be clickjacked
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


def html_response(status: int, body: bytes, extra: list[tuple[str, str]] | None = None):
    return Response(status, body, list(HTML_HEADERS) + list(extra or []))


def json_response(status: int, data, extra: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(data).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
    return Response(status, body, headers + list(extra or []))


def error_page(status: int, heading: str, message: str, hint: str = "") -> Response:
    hint = hint or "Go back to the application and start the sign-in again."
    return html_response(
        status, page(heading, "error.html", heading=heading, message=message, hint=hint)
    )


def redirect(location: str, status: int = 302, extra=None) -> Response:
    return Response(
        status, b"", [("Location", location), ("Cache-Control", "no-store")] + list(extra or [])
    )


def is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


# --- the application --------------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    client_id: str
    client_secret: str
    user_email: str
    user_password: str


class SandboxApp:
    """The authorization server and the protected API, over one ``Store``."""

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

        from .defaults import DEMO_CLIENT_NAME, DEMO_REDIRECT_URI, DEMO_SCOPES

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
            resp = self._misdirected(req) or self._route(req)
        except (BadInput, UnicodeDecodeError, ValueError) as exc:
            log.info("bad request %s %s: %s", req.method, req.path, exc)
            resp = self._bad_input(req, str(exc))
        except Exception:
            log.error("error handling %s %s\n%s", req.method, req.path, traceback.format_exc())
            resp = self._bad_input(req, "The sandbox could not handle this request.")
        if not req.path.startswith("/debug/"):
            self._record(req, resp, time.perf_counter() - started)
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
        from .store import digest

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
        alert = (
            f'<p class="alert" id="login-error" role="alert">{html.escape(message)}</p>'
            if message
            else ""
        )
        # Focus the first field left to fill: after a wrong password, the password.
        password_attrs = ' autofocus aria-invalid="true" aria-describedby="login-error"'
        body = page(
            "Sign in",
            "login.html",
            raw={
                "message": alert,
                "email_attrs": "" if email else " autofocus",
                "password_attrs": password_attrs if email else "",
            },
            client_name=self._client_name(pending.client_id),
            csrf_token=csrf,
            txn=txn,
            email=email,
            demo_email=self.demo.user_email,
            demo_password=self.demo.user_password,
        )
        return html_response(status, body, extra)

    def _consent_response(self, pending, txn, csrf, email, extra=None) -> Response:
        items = "\n".join(
            f"<li><strong>{html.escape(desc)}</strong><br><code>{html.escape(scope)}</code></li>"
            for scope, desc in policy.known_scope_lines(pending.scopes)
        )
        body = page(
            "Allow access?",
            "consent.html",
            raw={"scope_items": items},
            client_name=self._client_name(pending.client_id),
            email=email,
            redirect_uri=pending.redirect_uri,
            csrf_token=csrf,
            txn=txn,
        )
        return html_response(200, body, extra)

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
        import hmac

        if not hmac.compare_digest(form.get("csrf_token", "").encode(), session[1].encode()):
            return None, error_page(
                403,
                "This form was refused",
                "The form's anti-forgery (CSRF) token is missing or wrong, so it may not have "
                "come from this sandbox's own page.",
            )
        return session, None

    def _expired_request(self) -> Response:
        return error_page(
            400,
            "This sign-in request is no longer valid",
            "It expired, or was already completed (each request can be answered once).",
        )

    def login(self, req: Request) -> Response:
        """POST /oauth/login: check the email and password, then go to the consent page."""
        form = req.form()
        session, refused = self._form_session(req, form)
        if refused:
            return refused
        session_hash, csrf, _ = session
        txn = form.get("txn", "")
        pending = self.store.get_pending(txn, session_hash)
        if pending is None:
            return self._expired_request()
        user = self.store.check_login(form.get("email", ""), form.get("password", ""))
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
        form = req.form()
        session, refused = self._form_session(req, form)
        if refused:
            return refused
        session_hash, _, email = session
        txn = form.get("txn", "")
        pending = self.store.get_pending(txn, session_hash)
        if pending is None or not email:
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

    # --- the protected API ------------------------------------------------------------------

    def _bearer(self, req: Request, scopes: list[str]):
        """(oauthlib request, None) for a good token, else (None, the RFC 6750 error answer)."""
        auth = req.headers.get("authorization", "")
        if not auth.strip() or auth.split()[0].lower() != "bearer":
            # RFC 6750 §3.1: no credentials, no error code in the challenge.
            return None, json_response(
                401,
                {"error_description": "No access token: send Authorization: Bearer <token>."},
                [("WWW-Authenticate", f'Bearer realm="{REALM}"')],
            )
        valid, request = self.oauth.verify_request(
            self.url + req.path, req.method, None, {"Authorization": auth}, scopes=scopes
        )
        if valid:
            return request, None
        error = getattr(request, "sandbox_error", None)
        if error is None:
            challenge = f'Bearer realm="{REALM}", error="invalid_request"'
            return None, json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Malformed Authorization header: use 'Bearer <token>'.",
                },
                [("WWW-Authenticate", challenge)],
            )
        code, description = error
        status = 403 if code == "insufficient_scope" else 401
        challenge = f'Bearer realm="{REALM}", error="{code}", error_description="{description}"'
        if code == "insufficient_scope":
            challenge += f', scope="{" ".join(scopes)}"'
        return None, json_response(
            status,
            {"error": code, "error_description": description},
            [("WWW-Authenticate", challenge)],
        )

    def send_message(self, req: Request) -> Response:
        """POST /messaging/v1/messages (scope messaging.v1.send), as GoTo's sample calls it."""
        request, refused = self._bearer(req, ["messaging.v1.send"])
        if refused:
            return refused
        if "json" not in req.headers.get("content-type", "").lower():
            return _field_error(None, "The body must be JSON (Content-Type: application/json).")
        try:
            data = json.loads(req.body.decode("utf-8"))
        except ValueError:
            return _field_error(None, "The body is not valid JSON.")
        if not isinstance(data, dict):
            return _field_error(None, "The body must be a JSON object.")
        owner = data.get("ownerPhoneNumber")
        if not isinstance(owner, str) or not E164_RE.match(owner):
            return _field_error(
                "ownerPhoneNumber", "must be a phone number in E.164 form, like +15551234567."
            )
        contacts = data.get("contactPhoneNumbers")
        if not isinstance(contacts, list) or not contacts:
            return _field_error(
                "contactPhoneNumbers", "must be a non-empty list of E.164 phone numbers."
            )
        for number in contacts:
            if not isinstance(number, str) or not E164_RE.match(number):
                return _field_error(
                    "contactPhoneNumbers",
                    f"{str(number)[:40]!r} is not a phone number in E.164 form "
                    "(like +15551234567).",
                )
        text = data.get("body")
        if not isinstance(text, str) or not text.strip():
            return _field_error("body", "must be a non-empty string.")
        if len(text) > MAX_MESSAGE_CHARS:
            return _field_error("body", f"must be at most {MAX_MESSAGE_CHARS} characters.")
        message = self.store.put_message(
            owner=owner,
            contacts=contacts,
            body=text,
            email=request.user,
            client_id=request.client_id,
        )
        return json_response(201, message)

    def who_am_i(self, req: Request) -> Response:
        """GET /identity/v1/Users/me: the signed-in user, for any valid token, whatever its scope.

        The notebooks call it with the tutorial's one scope, ``messaging.v1.send``, and every
        token response names the user (``principal``) anyway, so the sandbox does not gate it
        behind ``identity:scim.me``; that scope's consent line says so. What GoTo does is
        UNCONFIRMED (GOTO.md): this SCIM path appears only in third-party code, and whether it
        needs ``identity:scim.me`` (its name suggests so) or answers any token is undocumented.
        """
        request, refused = self._bearer(req, [])
        if refused:
            return refused
        user = self.store.get_user(request.user)
        return json_response(
            200,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": user.user_id if user else None,
                "userName": request.user,
                "displayName": user.display_name if user else request.user,
                "emails": [{"value": request.user, "primary": True}],
                "principal": request.user,
                "scopes": list(request.scopes),
                "client_id": request.client_id,
            },
        )

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
        self.log.append(
            {
                "time": time.strftime("%H:%M:%S"),
                "ms": round(seconds * 1000, 1),
                "method": req.method,
                "target": redact_url(req.target),
                "request_headers": [
                    (k, redact_header(k, v))
                    for k, v in req.headers.items()
                    if k in ("authorization", "content-type", "cookie", "accept")
                ],
                "request_body": _shown(redact_body(req.body, req.headers.get("content-type", ""))),
                "status": resp.status,
                "response_headers": [
                    (k, redact_header(k, v))
                    for k, v in resp.headers
                    if k.lower() in ("location", "www-authenticate", "content-type", "set-cookie")
                ],
                "response_body": _shown(redact_body(resp.body, resp.header("Content-Type") or "")),
            }
        )

    def debug_requests(self, req: Request) -> Response:
        """GET /debug/requests: a teaching aid; every secret shows as '…' and its last 4 chars.

        Masked by ``helpers.redact``, as the helpers' traces are, so a screenshot of both
        never shows more of a secret than either alone.
        """
        rows = []
        for entry in reversed(list(self.log)):

            def block(headers, body):
                lines = [f"{k}: {v}" for k, v in headers]
                if body:
                    lines += ["", body]
                return f"<pre>{html.escape(chr(10).join(lines))}</pre>"

            rows.append(
                "<tr>"
                f"<td>{html.escape(entry['time'])}<br><span class='muted'>{entry['ms']} ms</span></td>"
                f"<td><code>{html.escape(entry['method'])} {html.escape(entry['target'])}</code>"
                f"{block(entry['request_headers'], entry['request_body'])}</td>"
                f"<td><strong>{entry['status']}</strong>"
                f"{block(entry['response_headers'], entry['response_body'])}</td>"
                "</tr>"
            )
        table = (
            (
                "<table><caption class='muted'>Newest first; codes, tokens, secrets, passwords "
                "and cookies show only their last 4 characters.</caption><thead><tr><th scope='col'>When</th>"
                "<th scope='col'>Request</th><th scope='col'>Response</th></tr></thead><tbody>"
                + "".join(rows)
                + "</tbody></table>"
            )
            if rows
            else "<p>No requests yet.</p>"
        )
        body = (
            template("layout.html")
            .substitute(
                title="Recent requests",
                main_class="wide",
                content=f"<h1>Recent requests ({len(rows)})</h1>{table}",
            )
            .encode("utf-8")
        )
        return html_response(200, body)


def _shown(text: str) -> str:
    # The log keeps 200 entries: a 1 MB body is kept as its first few thousand characters.
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def _field_error(field_name: str | None, message: str) -> Response:
    data = {"error": "invalid_request", "error_description": message}
    if field_name:
        data["field"] = field_name
        data["error_description"] = f"{field_name} {message}"
    return json_response(400, data)


def _oauthlib_headers(req: Request) -> dict[str, str]:
    names = {"authorization": "Authorization", "content-type": "Content-Type"}
    return {names.get(k, k): v for k, v in req.headers.items()}


# --- HTTP plumbing ----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GoToOAuthSandbox/1"
    timeout = 30  # an idle keep-alive socket (a browser preconnect) gives up its thread

    def _dispatch(self) -> None:
        app: SandboxApp = self.server.app  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if "chunked" in headers.get("transfer-encoding", "").lower() or length < 0:
            self._send(
                json_response(
                    411, {"error": "invalid_request", "error_description": "Send a Content-Length."}
                ),
                close=True,
            )
            return
        if length > MAX_BODY:
            self._send(
                json_response(
                    413, {"error": "invalid_request", "error_description": "Body too large."}
                ),
                close=True,
            )
            return
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, headers, body, self.client_address[0])
        resp = app.handle(req)
        self._send(resp, head=self.command == "HEAD")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _send(self, resp: Response, *, head: bool = False, close: bool = False) -> None:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        lines = [f"HTTP/1.1 {resp.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        lines.append(f"Content-Length: {len(resp.body)}")
        lines.append(f"Date: {self.date_time_string()}")
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        # One write, so Nagle and delayed ACK cannot add ~40 ms to each keep-alive answer.
        self.wfile.write(data if head else data + resp.body)

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a classroom connecting at once must not overflow the backlog

    def __init__(self, address, app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


def write_state_file(app: SandboxApp) -> Path:
    """Record pid, URL and demo credentials (mode 0600) so ``ensure_running`` can find us."""
    path = app.data_dir / STATE_FILE
    data = {
        "pid": os.getpid(),
        "url": app.url,
        "data_dir": str(app.data_dir),
        "client_id": app.demo.client_id,
        "client_secret": app.demo.client_secret,
        "user_email": app.demo.user_email,
        "user_password": app.demo.user_password,
        "started_at": app.started_at,
    }
    tmp = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
    return path


def remove_state_file(app: SandboxApp) -> None:
    path = app.data_dir / STATE_FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("pid") == os.getpid() and data.get("url") == app.url:
            path.unlink()
    except (OSError, ValueError):
        pass


def make_server(
    data_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    demo: Demo,
    settings: policy.Settings,
    users: dict[str, str] | None = None,
) -> SandboxHTTPServer:
    """Bind the sandbox (``port=0``: any free port); call ``serve_forever`` to run it."""
    app = SandboxApp(data_dir, demo=demo, settings=settings, users=users)
    httpd = SandboxHTTPServer((host, port), app)
    bound_host, bound_port = httpd.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    if shown in ("0.0.0.0", "[::]"):  # noqa: S104 - advertise loopback for all-interfaces
        shown = "127.0.0.1"
    app.url = f"http://{shown}:{bound_port}"
    app.allowed_hosts = allowed_hosts(str(bound_host), bound_port)
    return httpd


def allowed_hosts(bound_host: str, port: int) -> frozenset[str]:
    """The Host headers that name this sandbox: its loopback names, and the address it is
    bound to (an instructor's ``--host 192.168.1.5``), each with the port."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if bound_host not in ("0.0.0.0", "::"):  # noqa: S104 - all interfaces: no single name
        names.add(f"[{bound_host}]" if ":" in bound_host else bound_host)
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # the default port may be left out
        hosts |= names
    return frozenset(hosts)


# --- running it -------------------------------------------------------------------------------


def build(
    data_dir: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    client_id: str | None = None,
    client_secret: str | None = None,
    user_email: str | None = None,
    user_password: str | None = None,
    access_token_lifetime: int = 3600,
    refresh_token_lifetime: int = 30 * 24 * 3600,
    code_lifetime: int = 600,
    refresh_mode: str = "goto",
    users: dict[str, str] | None = None,
) -> SandboxHTTPServer:
    """A bound, not yet serving, sandbox with the demo client and user in place."""
    from . import defaults

    if refresh_mode not in ("goto", "rotate"):
        raise ValueError("refresh_mode is 'goto' or 'rotate'")
    data_dir = Path(data_dir)
    demo = Demo(
        client_id=client_id or defaults.DEMO_CLIENT_ID,
        client_secret=client_secret or defaults.demo_client_secret(data_dir),
        user_email=user_email or defaults.DEMO_USER_EMAIL,
        user_password=user_password or defaults.DEMO_USER_PASSWORD,
    )
    settings = policy.Settings(
        access_token_lifetime=int(access_token_lifetime),
        refresh_token_lifetime=int(refresh_token_lifetime),
        code_lifetime=int(code_lifetime),
        refresh_mode=refresh_mode,
    )
    return make_server(data_dir, host=host, port=port, demo=demo, settings=settings, users=users)


class RunningSandbox:
    """A sandbox serving from a daemon thread of this process; a context manager.

    The fault switches are methods here, and HTTP endpoints under ``/sandbox/``.
    """

    def __init__(
        self, httpd: SandboxHTTPServer, *, idle_exit: float | None = None, state_file=True
    ) -> None:
        from . import SandboxInfo

        self.httpd = httpd
        self.app = httpd.app
        self.url = self.app.url
        demo = self.app.demo
        self.info = SandboxInfo(
            url=self.url,
            client_id=demo.client_id,
            client_secret=demo.client_secret,
            user_email=demo.user_email,
            user_password=demo.user_password,
            data_dir=str(self.app.data_dir),
        )
        self._idle_exit = idle_exit
        self._state_file = state_file
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._done = False
        self._thread: threading.Thread | None = None
        self.app.on_shutdown = self.stop

    def start(self) -> RunningSandbox:
        if self._state_file:
            write_state_file(self.app)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth-sandbox-{self.url}",
            daemon=True,
        )
        self._thread.start()
        if self._idle_exit:
            threading.Thread(target=self._watch_idle, daemon=True).start()
        return self

    def _watch_idle(self) -> None:
        step = max(0.05, min(30.0, self._idle_exit / 20))
        while not self._stopped.wait(step):
            if time.monotonic() - self.app.last_activity > self._idle_exit:
                log.info("idle for %s s: stopping", self._idle_exit)
                self._stopped.set()  # the main thread (or whoever waits) finishes the stop
                self.stop()
                return

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (by ``stop``, /sandbox/shutdown or idle exit)."""
        return self._stopped.wait(timeout)

    def stop(self) -> None:
        """Stop serving, free the port, remove the state file. Safe to call twice."""
        self._stopped.set()  # wakes wait() at once
        with self._stop_lock:  # a second caller returns only once the first one is done
            if self._done:
                return
            if self._thread is not None and self._thread is not threading.current_thread():
                self.httpd.shutdown()
                self._thread.join(timeout=5)
            self.httpd.server_close()
            if self._state_file:
                remove_state_file(self.app)
            self.app.store.close()
            self._done = True

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._done else "running"
        return f"RunningSandbox({self.url!r}, {state})"

    # fault switches and test helpers, delegated to the app
    def fail_next_token_request(self, count: int = 1) -> None:
        self.app.fail_next_token_request(count)

    def expire_access_tokens(self) -> int:
        return self.app.expire_access_tokens()

    def set_token_lifetimes(self, *, access_token=None, refresh_token=None, code=None) -> dict:
        return self.app.set_token_lifetimes(
            access_token=access_token, refresh_token=refresh_token, code=code
        )

    def reset_faults(self) -> dict:
        return self.app.reset_faults()

    def add_user(self, email: str, password: str, display_name: str | None = None) -> None:
        self.app.add_user(email, password, display_name)

    def add_client(self, client_id, client_secret, *, redirect_uris, scopes, name=None) -> None:
        self.app.add_client(
            client_id, client_secret, redirect_uris=redirect_uris, scopes=scopes, name=name
        )
