"""The sandbox's pages: templates, the login and consent pages, error pages, /debug/requests.

Every value put into a template is HTML-escaped; the pages carry headers that keep them out of
frames and caches (the consent page must not be clickjacked).
"""

from __future__ import annotations

import html
import time
from importlib import resources
from string import Template

from ..redact import redact_body, redact_header, redact_url
from . import validator as policy
from .transport import Request, Response

MAX_SHOWN = 4000  # characters of a body kept for the debug page

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


def error_page(status: int, heading: str, message: str, hint: str = "") -> Response:
    hint = hint or "Go back to the application and start the sign-in again."
    return html_response(
        status, page(heading, "error.html", heading=heading, message=message, hint=hint)
    )


def login_page(
    *,
    client_name: str,
    csrf: str,
    txn: str,
    demo_email: str,
    demo_password: str,
    message: str = "",
    email: str = "",
    extra=None,
    status: int = 200,
) -> Response:
    """The login form; with ``message`` (a wrong password) focus goes to the password."""
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
        client_name=client_name,
        csrf_token=csrf,
        txn=txn,
        email=email,
        demo_email=demo_email,
        demo_password=demo_password,
    )
    return html_response(status, body, extra)


def consent_page(
    *, client_name: str, scopes, email: str, redirect_uri: str, csrf: str, txn: str, extra=None
) -> Response:
    """The Allow/Deny page: who asks, for whom, each scope in plain language."""
    items = "\n".join(
        f"<li><strong>{html.escape(desc)}</strong><br><code>{html.escape(scope)}</code></li>"
        for scope, desc in policy.known_scope_lines(scopes)
    )
    body = page(
        "Allow access?",
        "consent.html",
        raw={"scope_items": items, "account": sign_out_form(csrf, "Not you?")},
        client_name=client_name,
        email=email,
        redirect_uri=redirect_uri,
        csrf_token=csrf,
        txn=txn,
    )
    return html_response(200, body, extra)


def sign_out_form(csrf: str, before: str) -> str:
    """A sign-out button after the HTML ``before``; the form carries the session's CSRF token."""
    return (
        f'<form class="account" method="post" action="/oauth/sign-out">{before} '
        f'<input type="hidden" name="csrf_token" value="{html.escape(csrf, quote=True)}">'
        '<button type="submit" class="secondary">Sign out</button></form>'
    )


def signed_in_line(email: str, csrf: str) -> str:
    """ "Signed in as ..." with a sign-out button, for the home page."""
    return sign_out_form(csrf, f"Signed in as <strong>{html.escape(email)}</strong>.")


# --- the debug page ---------------------------------------------------------------------------


def debug_refused_page() -> Response:
    """403 for /debug/requests without the owner's key: what it is, and how the owner opens it."""
    return error_page(
        403,
        "Only the sandbox's owner can read this page",
        "The request log shows who signs in, from which application, to which redirect URI, "
        "so only whoever started this sandbox may read it.",
        "Open the link that `python -m helpers.sandbox debug-link` prints (in the checkout "
        "that started the sandbox), or the link `sandbox.show_request_log(cfg)` shows in "
        "a notebook.",
    )


def log_entry(req: Request, resp: Response, seconds: float) -> dict:
    """One exchange for the debug page, every secret masked by ``helpers.redact``."""
    return {
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


def _shown(text: str) -> str:
    # The log keeps 200 entries: a 1 MB body is kept as its first few thousand characters.
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


def requests_page(entries) -> Response:
    """GET /debug/requests: a teaching aid; every secret shows as '…' and its last 4 chars.

    Masked by ``helpers.redact``, as the helpers' traces are, so a screenshot of both
    never shows more of a secret than either alone.
    """
    rows = []
    for entry in reversed(list(entries)):

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
