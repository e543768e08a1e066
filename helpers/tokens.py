"""Stage 4: exchange the code for a token; refresh, revoke and save it.

    >>> token = tokens.exchange(cfg, request, result.code)
    >>> token
    Token(principal='learner@example.com', scopes='messaging.v1.send', expires in 3599 s, ...)
    >>> tokens.TokenStore().save(token)

The client authenticates with HTTP Basic, as GoTo expects, for every call to the token
endpoint. Each failure becomes a named error from ``helpers.errors`` that says what to do.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qsl, quote_plus

import requests
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from .authorization import AuthorizationRequest
from .config import OAuthConfig, mask, setting_path
from .display import html_table
from .errors import InvalidClient, NoSavedToken, TokenExpired, UnexpectedResponse
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

T = TypeVar("T")


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


@dataclass(frozen=True)
class Token:
    """An access token and what came with it. Secrets are masked in every representation."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    requested_scopes: tuple[str, ...] = ()
    principal: str | None = None
    issuer: str | None = None
    obtained_at: float = field(default_factory=time.time)

    @property
    def expires_in(self) -> int | None:
        """Whole seconds until the access token expires (negative once it has)."""
        return None if self.expires_at is None else int(self.expires_at - time.time())

    def is_expired(self, leeway: float = 0.0) -> bool:
        """True when the token expires within ``leeway`` seconds (or already has)."""
        return self.expires_at is not None and time.time() + leeway >= self.expires_at

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        """Scopes we asked for but were not granted (a narrower grant is allowed, RFC 6749 §3.3)."""
        return tuple(s for s in self.requested_scopes if s not in self.scopes)

    @property
    def authorization_header(self) -> dict[str, str]:
        """The header that presents this token to an API (RFC 6750 §2.1)."""
        return {"Authorization": f"Bearer {self.access_token}"}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Token:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for name in ("scopes", "requested_scopes"):
            known[name] = tuple(known.get(name) or ())
        return cls(**known)

    def _lifetime(self) -> str:
        left = self.expires_in
        if left is None:
            return "no expiry given"
        return f"expires in {left} s" if left > 0 else f"expired {-left} s ago"

    def __repr__(self) -> str:
        refresh = mask(self.refresh_token) if self.refresh_token else None
        return (
            f"Token(principal={self.principal!r}, scopes={' '.join(self.scopes)!r}, "
            f"{self._lifetime()}, access_token={mask(self.access_token)!r}, "
            f"refresh_token={refresh!r})"
        )

    __str__ = __repr__

    def rows(self) -> list[tuple[str, str]]:
        """What a learner may see of the token, as name/value pairs (credentials masked)."""
        rows = [
            ("Principal", self.principal or "(not given)"),
            ("Token type", self.token_type),
            ("Scopes granted", " ".join(self.scopes) or "(none)"),
            ("Access token", mask(self.access_token) + " (masked)"),
            (
                "Refresh token",
                mask(self.refresh_token) + " (masked)" if self.refresh_token else "none",
            ),
            ("Issued by", self.issuer or "(unknown)"),
        ]
        if self.missing_scopes:
            rows.append(("Asked for, not granted", " ".join(self.missing_scopes)))
        return rows

    def _repr_html_(self) -> str:
        return html_table([*self.rows(), ("Lifetime", self._lifetime())])


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


def default_token_path() -> Path:
    """Where tokens are saved: ``OAUTH_TOKEN_FILE`` if set (environment or .env), else
    ``.tokens.json`` at the root of this checkout (git-ignored), else in the working folder."""
    chosen = setting_path("OAUTH_TOKEN_FILE")
    if chosen is not None:
        return chosen
    root = Path(__file__).resolve().parents[1]
    return (root if (root / "pyproject.toml").is_file() else Path.cwd()) / ".tokens.json"


class TokenStore:
    """Saves one token to a file only you can read, replacing it atomically.

    The file is written to a temporary file in the same folder (mode 0600), flushed to disk and
    renamed over the old one, so a crash leaves either the old token or the new one, never half.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_token_path()

    def save(self, token: Token) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=self.path.parent)
        try:
            # mkstemp already creates the file 0600 on POSIX; say it explicitly where we can
            # (os.fchmod exists on Windows only from Python 3.13, where it sets read-only bits).
            if os.name == "posix":
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(token.to_dict(), f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if os.name == "posix":  # make the rename itself durable (Windows cannot open folders)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._remove_leftovers()
        return self.path

    def _remove_leftovers(self, age: float = 60.0) -> None:
        # A process killed mid-save leaves its temporary file (a token) behind; a save in
        # progress elsewhere lasts milliseconds, so one older than a minute is a leftover.
        cutoff = time.time() - age
        for leftover in self.path.parent.glob(".tokens-*.tmp"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                pass

    def load(self) -> Token:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Token.from_dict(data)
        except FileNotFoundError:
            raise NoSavedToken(str(self.path)) from None
        except (ValueError, TypeError, KeyError) as e:
            raise NoSavedToken(str(self.path), f"the file is not a saved token ({e})") from None

    def load_for(self, config: OAuthConfig) -> Token:
        """The saved token, if it came from this configuration's authorization server."""
        token = self.load()
        if token.issuer and token.issuer != config.service_url:
            raise NoSavedToken(
                str(self.path),
                f"the saved token was issued by {token.issuer}, not {config.service_url}",
            )
        return token

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"
