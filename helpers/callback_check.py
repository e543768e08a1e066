"""What a callback amounts to: the state check, shared by the listener and the paste fallback.

    >>> from helpers.callback_check import parse_callback_url
    >>> parse_callback_url(pasted_address, cfg.redirect_uri, request.state)
    CallbackResult(code='…x9Q=', state='...', received_at='2025-01-01T12:00:00+00:00')

``judge(query, expected_state)`` turns the query of a request to the redirect URI's path into
the code (a ``CallbackResult``) or the named error it is; the listener (``helpers.callback``)
answers each request by it, and ``parse_callback_url`` runs the very same checks on an address
the learner pasted from the browser.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

from .errors import (
    AuthorizationDenied,
    AuthorizationFailed,
    CallbackError,
    InvalidCallbackAddress,
    StateMismatch,
)
from .redact import mask, printable

# Echoed values are cut to these lengths: a page or an error message is not a data dump.
_MAX_ECHO = 300
_MAX_ERROR_CODE = 100


@dataclass(frozen=True, repr=False)
class CallbackResult:
    """A genuine callback: the authorization code, and the state it came back with.

    The code is a credential until it is exchanged, so no representation shows it.
    """

    code: str
    state: str
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __repr__(self) -> str:
        return (
            f"CallbackResult(code={mask(self.code)!r}, state={self.state!r}, "
            f"received_at={self.received_at.isoformat(timespec='seconds')!r})"
        )


#: What a request to the redirect URI's path amounts to: the code, or the error it is.
Outcome = CallbackResult | CallbackError

#: The outcomes that end a sign-in. The others (a forgery, a request without a code) are
#: answered and the listener keeps waiting for the genuine callback.
FINAL = (CallbackResult, AuthorizationDenied, AuthorizationFailed)


_QUOTES = " \t\r\n\"'`<>"


def parse_callback_url(address: str, redirect_uri: str, expected_state: str) -> CallbackResult:
    """Check an address pasted from the browser, exactly as the listener checks a callback.

    For remote Jupyter (JupyterHub, Binder, SSH, Docker, WSL): the browser cannot reach the
    kernel's 127.0.0.1 and ends on an error page whose address bar still holds the callback.

    Only the path is compared with the redirect URI, not the scheme, host or port: loopback
    redirects may legitimately arrive on another port (RFC 8252 §7.3) or through a forwarded
    one, and the state check, not the address, is what proves the callback belongs to this
    sign-in. On JupyterHub the browser ends under jupyter-server-proxy's prefix
    (``/user/<name>/proxy/<port>`` + the path; ``/proxy/<port>`` on a single Jupyter server),
    which is accepted too. Raises ``StateMismatch``, ``AuthorizationDenied``, ``AuthorizationFailed`` or
    ``InvalidCallbackAddress``; surrounding whitespace and quotes are ignored.
    """
    text = (address or "").strip(_QUOTES)
    if not text:
        raise InvalidCallbackAddress("it is empty")
    try:
        parts = urlsplit(text)
        expected_path = urlsplit(redirect_uri).path or "/"
    except ValueError:
        raise InvalidCallbackAddress("it is not a web address") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidCallbackAddress("it is not a web address starting with http://")
    if not _is_callback_path(parts.path or "/", expected_path):
        raise InvalidCallbackAddress(
            f"its path is {printable(parts.path or '/', 80)!r}, not the redirect URI's "
            f"{expected_path!r}"
        )
    if not parts.query:
        raise InvalidCallbackAddress("it has no ?code=...&state=... part")
    outcome = judge(parts.query, expected_state)
    if isinstance(outcome, CallbackError):
        raise outcome
    return outcome


def judge(query: str, expected_state: str) -> Outcome:
    """Judge the query of a request to the redirect URI's path.

    The order matters: the state is checked before anything else is believed, so a forged
    ``error=access_denied`` cannot end a sign-in (RFC 6749 §10.12, CSRF).
    """
    try:
        params = parse_qs(query, keep_blank_values=True, max_num_fields=50)
    except ValueError:
        return InvalidCallbackAddress("it has too many parameters to be a callback")
    repeated = sorted(name for name, values in params.items() if len(values) > 1)
    if repeated:  # RFC 6749 §3.1: parameters must not be included more than once.
        return InvalidCallbackAddress(
            f"the parameter {printable(repeated[0], 40)!r} appears more than once"
        )
    one = {name: values[0] for name, values in params.items()}

    state = one.get("state")
    if state is None or not _same_state(state, expected_state):
        return StateMismatch()
    error = one.get("error")
    if error is not None:
        description = printable(one.get("error_description") or "", _MAX_ECHO) or None
        if error == "access_denied":
            return AuthorizationDenied(description)
        return AuthorizationFailed(printable(error, _MAX_ERROR_CODE), description)
    code = one.get("code")
    if not code:
        return InvalidCallbackAddress("it carries the right state but no code")
    return CallbackResult(code=code, state=state)


def _same_state(received: str, expected: str) -> bool:
    # Constant-time comparison, so timing reveals nothing about the expected state.
    # compare_digest takes str only when ASCII, so compare the UTF-8 bytes.
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def _is_callback_path(path: str, expected: str) -> bool:
    """``expected``, alone or behind jupyter-server-proxy's ``.../proxy/<port>`` prefix."""
    if path == expected:
        return True
    _, proxy, port_and_path = path.rpartition("/proxy/")
    port, slash, rest = port_and_path.partition("/")
    return bool(proxy) and port.isdigit() and slash + rest == expected
