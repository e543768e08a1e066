"""Calling GoTo-style APIs with the access token (RFC 6750 bearer tokens).

    >>> api.send_message(cfg, token, owner_phone_number="+15551230000",
    ...                  contact_phone_numbers=["+15557654321"], body="Hello from Python")
    {'id': '...', 'ownerPhoneNumber': '+15551230000', ...}

A refused call becomes ``InvalidToken`` (401: expired, revoked or missing token),
``InsufficientScope`` (403: the token lacks the scope) or ``ApiError``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .config import OAuthConfig
from .errors import ApiError, InsufficientScope, InvalidToken, UnexpectedResponse
from .tokens import Token
from .trace import Trace
from .transport import DEFAULT_TIMEOUT, quoted, session_for, talking_to

#: Paths of the two calls the tutorial makes. "Who am I" at GoTo is UNCONFIRMED (not in its documented APIs).
MESSAGES_PATH = "/messaging/v1/messages"
ME_PATH = "/identity/v1/Users/me"
#: The setting that names the API's host, for error messages.
SETTING = "GOTO_API_URL"


def _challenge_error(header: str) -> str | None:
    """The ``error`` attribute of a ``WWW-Authenticate: Bearer ...`` challenge (RFC 6750 §3)."""
    match = re.search(r'error="([^"]*)"', header or "")
    return match.group(1) if match else None


def call(
    config: OAuthConfig,
    token: Token,
    method: str,
    path: str,
    *,
    json: Any = None,
    timeout: float = DEFAULT_TIMEOUT,
    trace: Trace | None = None,
) -> Any:
    """Make one API call with the bearer token and return the JSON answer."""
    url = config.api_url + path
    with talking_to(url, timeout, SETTING), session_for(url, trace) as session:
        response = session.request(
            method,
            url,
            json=json,
            headers={**token.authorization_header, "Accept": "application/json"},
            timeout=timeout,
        )
    try:
        data = response.json() if response.content else None
    except ValueError:
        data = None
    if response.ok:
        if data is None and response.content:
            content_type = response.headers.get("Content-Type", "")
            raise UnexpectedResponse(
                url, response.status_code, content_type, response.text, SETTING
            )
        return data
    details = data if isinstance(data, dict) else {}
    error = quoted(
        _challenge_error(response.headers.get("WWW-Authenticate", "")) or details.get("error")
    )
    description = quoted(details.get("error_description") or details.get("message"))
    if response.status_code == 401:
        raise InvalidToken(401, error, description)
    if response.status_code == 403 and error in (None, "insufficient_scope"):
        raise InsufficientScope(403, error, description)
    raise ApiError(response.status_code, error, description)


def send_message(
    config: OAuthConfig,
    token: Token,
    *,
    owner_phone_number: str,
    contact_phone_numbers: Sequence[str],
    body: str,
    trace: Trace | None = None,
) -> dict:
    """Send an SMS from one of the account's numbers (scope ``messaging.v1.send``)."""
    payload = {
        "ownerPhoneNumber": owner_phone_number,
        "contactPhoneNumbers": list(contact_phone_numbers),
        "body": body,
    }
    return call(config, token, "POST", MESSAGES_PATH, json=payload, trace=trace)


def who_am_i(config: OAuthConfig, token: Token, *, trace: Trace | None = None) -> dict:
    """Who the token acts for (any valid token)."""
    return call(config, token, "GET", ME_PATH, trace=trace)
