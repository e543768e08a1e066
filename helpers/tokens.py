"""Stage 4: exchange the code for a token; refresh, revoke and save it.

    >>> token = tokens.exchange(cfg, request, result.code)
    >>> token
    Token(principal='learner@example.com', scopes='messaging.v1.send', expires in 3599 s, ...)
    >>> tokens.TokenStore().save(token)

The client authenticates with HTTP Basic, as GoTo expects, for every call to the token
endpoint. Each failure becomes a named error from ``helpers.errors`` that says what to do.
``Token`` and ``TokenStore`` live in ``helpers/token_store.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qsl, quote_plus

import requests
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from .authorization import AuthorizationRequest
from .config import OAuthConfig, mask
from .errors import InvalidClient, TokenExpired, UnexpectedResponse
from .token_store import Token, TokenStore, default_token_path
from .trace import Trace
from .transport import (
    DEFAULT_TIMEOUT,
    json_object,
    plain_http_if_loopback,
    prepare,
    raise_oauth_error,
    session_for,
    talking_to,
)

__all__ = [
    "ClientSecretBasic",
    "Token",
    "TokenStore",
    "default_token_path",
    "ensure_fresh",
    "exchange",
    "refresh",
    "revoke",
]

T = TypeVar("T")


def exchange(
    config: OAuthConfig,
    request: AuthorizationRequest,
    code: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    trace: Trace | None = None,
) -> Token:
    """Exchange an authorization code for a token (RFC 6749 §4.1.3).

    Sends the code, the redirect URI of this attempt and its PKCE code verifier, with the client
    credentials in an HTTP Basic header. Raises a ``TokenError`` subclass when the server refuses.
    """
    extra = {"code_verifier": request.code_verifier} if request.code_verifier else {}

    def call(auth: ClientSecretBasic) -> dict:
        session = _session(config, trace, redirect_uri=request.redirect_uri)
        with talking_to(config.token_url, timeout), plain_http_if_loopback(config.token_url):
            return session.fetch_token(
                config.token_url,
                code=code,
                auth=auth,
                include_client_id=False,
                timeout=timeout,
                **extra,
            )

    return _token_from(dict(_authenticated(config, call)), config, request.scopes, None)


def refresh(
    config: OAuthConfig,
    token: Token,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    trace: Trace | None = None,
) -> Token:
    """Get a new access token with the refresh token (RFC 6749 §6).

    Uses HTTP Basic too (requests-oauthlib would put the credentials in the body, which GoTo
    refuses). When the answer carries no new refresh token, the old one is kept.
    """
    if not token.refresh_token:
        raise TokenExpired()

    def call(auth: ClientSecretBasic) -> dict:
        session = _session(config, trace)
        with talking_to(config.token_url, timeout), plain_http_if_loopback(config.token_url):
            return session.refresh_token(
                config.token_url, refresh_token=token.refresh_token, auth=auth, timeout=timeout
            )

    return _token_from(dict(_authenticated(config, call)), config, token.requested_scopes, token)


def ensure_fresh(
    config: OAuthConfig, token: Token, *, leeway: float = 60.0, trace: Trace | None = None
) -> Token:
    """The token itself while it is valid for ``leeway`` more seconds, else a refreshed one."""
    return refresh(config, token, trace=trace) if token.is_expired(leeway) else token


def revoke(
    config: OAuthConfig,
    token: Token,
    *,
    which: str = "refresh_token",
    timeout: float = DEFAULT_TIMEOUT,
    trace: Trace | None = None,
) -> None:
    """Ask the server to revoke the refresh token (default) or the access token (RFC 7009).

    GoTo documents no revocation endpoint; this uses the conventional ``/oauth/revoke``.
    """
    if which not in ("refresh_token", "access_token"):
        raise ValueError("which must be 'refresh_token' or 'access_token'")
    value = getattr(token, which)
    if not value:
        raise ValueError(f"This token has no {which} to revoke.")
    url = config.revoke_url

    def call(auth: ClientSecretBasic) -> None:
        with talking_to(url, timeout), session_for(url, trace) as session:
            response = session.post(
                url,
                data={"token": value, "token_type_hint": which},
                auth=auth,
                headers={"Accept": "application/json"},
                timeout=timeout,
            )
        if response.status_code != 200:
            raise_oauth_error(response, json_object(response))

    _authenticated(config, call)


class ClientSecretBasic(requests.auth.HTTPBasicAuth):
    """HTTP Basic client authentication as RFC 6749 §2.3.1 defines it.

    The client ID and secret are form-encoded *before* requests' ``HTTPBasicAuth`` builds the
    header, as the Node.js tutorial's simple-oauth2 does. ``HTTPBasicAuth`` alone skips that
    step, so a secret holding ``+``, ``/`` or ``=`` (GoTo's do) reaches a strict server
    changed, and is refused. ``form_encode=False`` sends the pair as it is.
    """

    def __init__(self, client_id: str, client_secret: str, *, form_encode: bool = True) -> None:
        encode = quote_plus if form_encode else str
        # As bytes: HTTPBasicAuth would encode a str as Latin-1; the pair is UTF-8.
        super().__init__(encode(client_id).encode(), encode(client_secret).encode())

    def header_value(self) -> str:
        """The ``Authorization`` header this sends."""
        request = requests.PreparedRequest()
        request.prepare_headers(None)
        return self(request).headers["Authorization"]

    def __repr__(self) -> str:
        secret = mask(self.password.decode())
        return f"ClientSecretBasic(client_id={self.username.decode()!r}, client_secret={secret!r})"


def _form(body: str | bytes | None) -> dict[str, str]:
    """The fields of a form-encoded request body (what the token request sent)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return dict(parse_qsl(body or ""))


def _check_token_response(response: requests.Response) -> requests.Response:
    """A compliance hook that turns a failed or malformed answer into a named error."""
    data = json_object(response)
    if "error" in data or response.status_code >= 400:
        sent = _form(response.request.body)
        grant, pkce = sent.get("grant_type"), "code_verifier" in sent
        raise_oauth_error(response, data, grant=grant, pkce=pkce)
    if not data.get("access_token"):
        raise UnexpectedResponse(
            response.url,
            response.status_code,
            response.headers.get("Content-Type", ""),
            "no access_token in it",
        )
    return response


def _session(config: OAuthConfig, trace: Trace | None, **kwargs) -> OAuth2Session:
    # scope=None: we compare granted and requested scopes ourselves, so a narrower grant is
    # reported instead of raised as oauthlib's "Scope has changed" Warning (RFC 6749 §3.3).
    session = OAuth2Session(client=WebApplicationClient(config.client_id), scope=None, **kwargs)
    session.register_compliance_hook("access_token_response", _check_token_response)
    session.register_compliance_hook("refresh_token_response", _check_token_response)
    return prepare(session, config.token_url, trace)


def _authenticated(config: OAuthConfig, call: Callable[[ClientSecretBasic], T]) -> T:
    """``call(auth)`` with HTTP Basic client credentials, form-encoded first (RFC 6749 §2.3.1).

    Which form GoTo decodes is UNCONFIRMED: the RFC and the Node.js tutorial's simple-oauth2
    form-encode, but GoTo's own refresh example builds the header from the raw secret. So when
    the server answers ``invalid_client`` and form-encoding changed the credentials (a secret
    with ``+``, ``/`` or ``=``), the call is made once more with the raw header.
    """
    encoded = ClientSecretBasic(config.client_id, config.client_secret)
    try:
        return call(encoded)
    except InvalidClient:
        raw = ClientSecretBasic(config.client_id, config.client_secret, form_encode=False)
        if raw == encoded:  # form-encoding changed nothing: the same header would fail again
            raise
        return call(raw)


def _token_from(
    data: dict, config: OAuthConfig, requested: tuple[str, ...], old: Token | None
) -> Token:
    scope = data.get("scope")
    if isinstance(scope, list):
        scopes = tuple(scope)
    elif scope:
        scopes = tuple(str(scope).split())
    else:  # RFC 6749 §5.1: no scope in the answer means "as requested"
        scopes = old.scopes if old else requested
    expires_at = data.get("expires_at")
    return Token(
        access_token=data["access_token"],
        token_type=data.get("token_type") or "Bearer",  # GoTo's refresh answer may omit it
        # GoTo's refresh answer usually has no refresh_token: keep the one we have (RFC 6749 §6).
        refresh_token=data.get("refresh_token") or (old.refresh_token if old else None),
        expires_at=float(expires_at) if expires_at is not None else None,
        scopes=scopes,
        requested_scopes=requested,
        principal=data.get("principal") or (old.principal if old else None),
        issuer=config.service_url,
    )
