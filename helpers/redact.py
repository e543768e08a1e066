"""Masking secrets for display, one convention everywhere: ``…`` and the last four characters.

Used by the helpers' reprs and traces and by the sandbox's request page, so a screenshot of
both never shows more of a secret than either alone. Standard library only.

    >>> mask("Qk+9x/Zr2=tPw7Lm+eV4")
    '…+eV4'
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

#: Names whose values are secrets wherever they appear: form fields, query and JSON keys.
SECRET_NAMES = frozenset(
    {
        "client_secret",
        "code",
        "code_verifier",
        "access_token",
        "refresh_token",
        "id_token",
        "password",
        "token",
        "csrf_token",
        "txn",
        # RFC 6749 §10.12: whoever knows a pending request's state can answer the client's
        # listener first (a denial, or a code of their own when PKCE is off).
        "state",
        "key",
    }
)

# A run of token-like characters long enough to be a credential, in text of unknown shape.
_CREDENTIAL_RUN = re.compile(r"[A-Za-z0-9\-._~+/=%]{20,}")
_FORM = re.compile(r"[^\s=&]+=[^\s&]*(?:&[^\s=&]+=[^\s&]*)*")
_MAX_SHOWN = 2000


def mask(secret: str | None, keep: int = 4) -> str:
    """Only the last few characters of a secret, ``'…x9Q='``; short ones not even those."""
    if not secret:
        return "<none>"
    if len(secret) <= keep * 3:
        return "…****"
    return "…" + secret[-keep:]


def _value(name: str, value: str) -> str:
    if name.lower() in SECRET_NAMES:
        return mask(value)
    if name.lower() == "redirect_uri":
        return redact_url(value)  # a redirect URI with a query of its own: same rule
    return value


def printable(text: str, limit: int = 300) -> str:
    """Text from the network made safe for a terminal or log line: control and other invisible
    characters (ANSI escapes, carriage returns, newlines, bidi overrides, zero-width ones: all
    that ``str.isprintable`` refuses) shown as ``\\x1b``-style escapes, and at most ``limit``
    characters.

        >>> printable("/cb\\r\\n[received] \\x1b[32mok")
        '/cb\\\\r\\\\n[received] \\\\x1b[32mok'
    """
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def redact_pairs(text: str) -> str:
    """A query string or form body, decoded for reading, secret values masked."""
    pairs = parse_qsl(text, keep_blank_values=True)
    return "&".join(f"{k}={_value(k, v)}" for k, v in pairs)


def redact_url(url: str) -> str:
    """A URL with the secret values of its query masked (a redirect carries the code)."""
    if not urlsplit(url).query:
        return url
    base, _, query = url.partition("?")
    return base + "?" + redact_pairs(query)


def redact_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname in ("authorization", "proxy-authorization"):
        scheme, _, credentials = value.partition(" ")
        # Basic credentials are the client id and secret in base64: show none of it.
        shown = mask(credentials) if scheme.lower() == "bearer" else "(masked)"
        return f"{scheme} {shown}" if credentials else "(masked)"
    if lname in ("cookie", "set-cookie"):
        # Every cookie: on 127.0.0.1 the browser also sends other local apps' (Jupyter's).
        return re.sub(r"=([^;,\s]+)", lambda m: "=" + mask(m.group(1)), value)
    if lname == "location":
        return redact_url(value)
    return value


def redact_json_value(data):
    """A parsed JSON value with the secret values of every object masked, at any depth."""
    if isinstance(data, dict):
        return {
            k: _value(k, v) if isinstance(v, str) else redact_json_value(v) for k, v in data.items()
        }
    if isinstance(data, list):
        return [redact_json_value(v) for v in data]
    return data


def redact_body(body: bytes | str | None, content_type: str = "") -> str:
    """A request or response body for display, whatever it claims to be.

    JSON is recognised by parsing, not by the content type (a server may mislabel a token
    response); form bodies are shown as pairs; anything else has its credential-like runs masked.
    """
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.dumps(redact_json_value(json.loads(text)), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    if "x-www-form-urlencoded" in content_type or _FORM.fullmatch(text.strip()):
        return redact_pairs(text.strip())
    if "html" in content_type:
        return f"[HTML page, {len(text)} characters]"
    shown = _CREDENTIAL_RUN.sub(lambda m: mask(m.group()), text[:_MAX_SHOWN])
    return shown + ("…" if len(text) > _MAX_SHOWN else "")
