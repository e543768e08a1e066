"""Stage 2: the authorization request, one object per sign-in attempt.

    >>> from helpers import config, authorization
    >>> request = authorization.AuthorizationRequest.new(config.load())
    >>> request.url          # open this in a browser
    'http://127.0.0.1:8765/oauth/authorize?response_type=code&client_id=...&state=...'

The object keeps the ``state`` and the PKCE ``code_verifier`` together with the URL, so the
later stages (checking the callback, exchanging the code) use the values of *this* attempt.
A new ``OAuth2Session`` in a later cell would have forgotten them (pitfall 5).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from .config import OAuthConfig, mask

#: 20 random bytes = 160 bits, more than the 120 the tutorial's 15 hex bytes give.
STATE_BYTES = 20


_plain_http_lock = threading.Lock()
_plain_http_users = 0  # calls to a loopback server in progress, in any thread
_plain_http_was_set = False  # the variable was set before we touched it: leave it alone


@contextmanager
def plain_http_if_loopback(config: OAuthConfig) -> Iterator[None]:
    """Let oauthlib use http:// for a sandbox on this machine, and for nothing else.

    oauthlib refuses http:// (OAuth 2.0 needs TLS) unless OAUTHLIB_INSECURE_TRANSPORT is set,
    and that switch is process-wide. We set it only while calls to a loopback server are in
    progress (counted across threads, so two sign-ins at once do not undo each other) and
    remove it afterwards, so a GoTo URL is never allowed over plain http.
    """
    global _plain_http_users, _plain_http_was_set
    if not config.allows_plain_http:
        yield
        return
    with _plain_http_lock:
        if _plain_http_users == 0:
            _plain_http_was_set = "OAUTHLIB_INSECURE_TRANSPORT" in os.environ
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        _plain_http_users += 1
    try:
        yield
    finally:
        with _plain_http_lock:
            _plain_http_users -= 1
            if _plain_http_users == 0 and not _plain_http_was_set:
                os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


def code_challenge(code_verifier: str) -> str:
    """The S256 challenge of a verifier: BASE64URL(SHA256(verifier)), unpadded (RFC 7636 §4.2)."""
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class AuthorizationRequest:
    """Everything one sign-in attempt needs, from the URL to the values that check its callback."""

    url: str
    state: str
    redirect_uri: str
    scopes: tuple[str, ...]
    code_verifier: str | None = field(default=None, repr=False)
    code_challenge: str | None = None
    created_at: float = field(default_factory=time.time)
    #: Where this attempt's listener binds: the redirect URI itself, except on a class hub
    #: (helpers/hub.py), where the browser comes back through the hub to this loopback address.
    listen_uri: str = ""

    def __post_init__(self) -> None:
        if not self.listen_uri:
            object.__setattr__(self, "listen_uri", self.redirect_uri)

    @classmethod
    def new(
        cls,
        config: OAuthConfig,
        *,
        scopes: Sequence[str] | None = None,
        pkce: bool = True,
        state: str | None = None,
        redirect_uri: str | None = None,
    ) -> AuthorizationRequest:
        """Build a fresh authorization request with a random ``state`` (and a PKCE pair).

        ``pkce=False`` gives the tutorial's original request. ``state`` and ``redirect_uri``
        are for the security lab, which forges requests on purpose.
        """
        scopes = tuple(scopes) if scopes is not None else config.scopes
        redirect_uri = redirect_uri or config.redirect_uri
        state = state or secrets.token_urlsafe(STATE_BYTES)
        client = WebApplicationClient(config.client_id)
        session = OAuth2Session(
            client=client,
            redirect_uri=redirect_uri,
            scope=list(scopes),
            pkce="S256" if pkce else None,
        )
        with plain_http_if_loopback(config):
            url, _ = session.authorization_url(config.authorize_url, state=state)
        verifier = client.code_verifier if pkce else None
        listen_uri = ""
        if config.authorize_base_url and redirect_uri == config.redirect_uri:
            from . import hub  # a class hub: the class callback must know this state is ours

            seat = hub.detect()
            if seat is not None:
                seat.register(state)
                listen_uri = seat.listen_uri(redirect_uri)
        return cls(
            listen_uri=listen_uri,
            url=url,
            state=state,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_verifier=verifier,
            code_challenge=code_challenge(verifier) if verifier else None,
        )

    @property
    def parameters(self) -> dict[str, str]:
        """The URL's query parameters, for explaining them one by one."""
        return dict(parse_qsl(urlsplit(self.url).query))

    def __repr__(self) -> str:
        pkce = f"S256, verifier {mask(self.code_verifier)}" if self.code_verifier else "off"
        return (
            f"AuthorizationRequest(state={self.state!r}, scopes={' '.join(self.scopes)!r}, "
            f"redirect_uri={self.redirect_uri!r}, pkce={pkce})"
        )
