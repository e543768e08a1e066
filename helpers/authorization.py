"""Stage 2: the authorization request, one object per sign-in attempt.

    >>> from helpers import authorization, connect
    >>> request = authorization.AuthorizationRequest.new(connect.load())
    >>> request.url          # open this in a browser
    'http://127.0.0.1:8765/oauth/authorize?response_type=code&client_id=...&state=...'

The object keeps the ``state`` and the PKCE ``code_verifier`` together with the URL, so the
later stages (checking the callback, exchanging the code) use the values of *this* attempt.
A new ``OAuth2Session`` in a later cell would have forgotten them, and the callback's ``state``
check or the exchange's PKCE verifier would fail.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from .config import OAuthConfig, mask
from .transport import plain_http_if_loopback

#: 20 random bytes = 160 bits, more than the 120 the tutorial's 15 hex bytes give.
STATE_BYTES = 20


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
        with plain_http_if_loopback(config.authorize_url):
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
