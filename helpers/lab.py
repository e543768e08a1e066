"""The attacker's side of the security lab: requests your own app would never send.

    >>> from helpers import lab
    >>> lab.forge_callback(cfg.redirect_uri, state="guessed-state")
    Probe(status=403, title='Callback refused: state check failed', location=None)

Each function makes one plain HTTP request, as an attacker's page (or script) would make the
victim's browser send it, and reports what came back. No redirect is followed: where the
server sends the browser next (``location``) is part of what the lab looks at. When nothing
answers, the named ``ServiceUnreachable`` (or ``ListenerUnreachable``, for the callback) says
what to run again.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from html import unescape
from urllib.parse import urlencode

from . import server_proxy
from .errors import OAuthTutorialError, ServiceUnreachable
from .transport import session_for, talking_to

#: Every lab request gives up after this many seconds (requests has no default timeout).
TIMEOUT = 5.0


class ListenerUnreachable(ServiceUnreachable):
    """Nothing listens on the redirect URI, so the forged callback had nowhere to go."""

    def __init__(self, redirect_uri: str) -> None:
        self.url = redirect_uri
        OAuthTutorialError.__init__(
            self,
            f"Nothing listens on {redirect_uri}, so the forged callback could not be delivered. "
            "A listener stops once its sign-in is over (or at its deadline): run the cell that "
            "starts the listener again, then this one.",
        )


@dataclass(frozen=True)
class Probe:
    """What one request got back: the status, the page's title, and any redirect target."""

    status: int
    title: str
    location: str | None = None

    @property
    def redirected(self) -> bool:
        return self.location is not None

    def __str__(self) -> str:
        where = f", redirects to {self.location}" if self.location else ", no redirect"
        return f"HTTP {self.status}: {self.title or '(no title)'}{where}"


def _title(html: str) -> str:
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", html, re.IGNORECASE | re.DOTALL)
        if match:
            return " ".join(unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())
    return ""


def probe(url: str, *, timeout: float = TIMEOUT) -> Probe:
    """GET ``url`` once, without following a redirect, and summarise the answer.

    Raises ``ServiceUnreachable`` when nothing answers, ``ServiceTimeout`` after ``timeout``.
    A page behind the Jupyter server's proxy is asked for where the kernel reaches it.
    """
    url, headers = server_proxy.from_the_kernel(url)
    with talking_to(url.split("?", 1)[0], timeout), session_for(url) as session:
        response = session.get(url, headers=headers, allow_redirects=False, timeout=timeout)
    location = response.headers.get("Location") if response.is_redirect else None
    content_type = response.headers.get("Content-Type", "")
    title = _title(response.text) if "html" in content_type else ""
    return Probe(status=response.status_code, title=title, location=location)


def forge_callback(
    redirect_uri: str,
    *,
    state: str,
    code: str = "a-code-from-the-attackers-own-sign-in",
    timeout: float = TIMEOUT,
) -> Probe:
    """Send the callback an attacker would plant: their own code, with a state they guessed.

    A CSRF attack on the redirect URI (RFC 6749 §10.12) tricks your browser into delivering
    the attacker's code, so your app would end up signed in as the attacker.
    """
    forged = redirect_uri + "?" + urlencode({"code": code, "state": state})
    try:
        return probe(forged, timeout=timeout)
    except ServiceUnreachable:
        raise ListenerUnreachable(redirect_uri) from None


def guessed_code_verifier() -> str:
    """A well-formed PKCE code verifier that is not the one your app made (RFC 7636 §4.1).

    Someone who intercepts a code does not have the verifier, so this is the best they can send.
    """
    return secrets.token_urlsafe(48)
