"""Small protocol steps the sandbox tests share, spoken the way real clients speak them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, quote_plus, urlencode, urlsplit

import requests

from testing.scripted_browser import sign_in

TIMEOUT = 10


def basic(client_id: str, secret: str, *, form_encode: bool = True) -> str:
    """An HTTP Basic header value; RFC 6749 section 2.3.1 form-encodes id and secret first."""
    if form_encode:
        client_id, secret = quote_plus(client_id), quote_plus(secret)
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)[:64]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def authorize_url(sandbox, redirect_uri: str, **params) -> str:
    query = {
        "response_type": "code",
        "client_id": sandbox.info.client_id,
        "redirect_uri": redirect_uri,
        "scope": "messaging.v1.send",
        "state": secrets.token_urlsafe(16),
    }
    query.update(params)
    query = {k: v for k, v in query.items() if v is not None}
    return f"{sandbox.url}/oauth/authorize?{urlencode(query)}"


def callback_params(response: requests.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.url).query).items()}


def get_code(sandbox, listener: str, *, email=None, password=None, **params) -> str:
    """Sign in through the real pages and return the code the callback received."""
    response = sign_in(authorize_url(sandbox, listener, **params), email=email, password=password)
    got = callback_params(response)
    assert "code" in got, got
    return got["code"]


def exchange(sandbox, code: str, redirect_uri: str | None, *, auth=None, **extra):
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    data.update(extra)
    headers = {"Authorization": auth or basic(sandbox.info.client_id, sandbox.info.client_secret)}
    return requests.post(f"{sandbox.url}/oauth/token", data=data, headers=headers, timeout=TIMEOUT)


def refresh(sandbox, refresh_token: str, *, auth=None, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    headers = {"Authorization": auth or basic(sandbox.info.client_id, sandbox.info.client_secret)}
    return requests.post(f"{sandbox.url}/oauth/token", data=data, headers=headers, timeout=TIMEOUT)


def tokens_for(sandbox, listener: str, *, email=None, password=None, **params) -> dict:
    """A whole sign-in: pages, then the code exchange. Returns the token response JSON."""
    code = get_code(sandbox, listener, email=email, password=password, **params)
    response = exchange(sandbox, code, listener)
    assert response.status_code == 200, response.text
    return response.json()


def whoami(sandbox, access_token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/identity/v1/Users/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT,
    )
