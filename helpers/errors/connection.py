"""Any stage: the authorization server or API could not be reached, or answered nonsense."""

from __future__ import annotations

from .base import OAuthTutorialError


class ServiceUnreachable(OAuthTutorialError):
    """No connection could be made to the authorization server or API."""

    def __init__(self, url: str, reason: str, setting: str = "OAUTH_SERVICE_URL") -> None:
        self.url = url
        super().__init__(
            f"Could not connect to {url} ({reason}). Check {setting} and your network; for the "
            "sandbox, run the notebook's first cell again (it starts the sandbox if it stopped)."
        )


class ServiceTimeout(OAuthTutorialError):
    """The server accepted the connection but did not answer in time."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        super().__init__(
            f"{url} did not answer within {seconds:g} s. The service may be overloaded: try again, "
            "or pass a larger timeout."
        )


class UnexpectedResponse(OAuthTutorialError):
    """The server answered something that is not the JSON the protocol promises."""

    def __init__(
        self,
        url: str,
        status: int,
        content_type: str,
        excerpt: str,
        setting: str = "OAUTH_SERVICE_URL",
    ) -> None:
        from ..redact import redact_body  # the answer may hold a credential in an unexpected form

        self.url = url
        self.status = status
        shown = redact_body(excerpt[:1000], content_type)[:200]
        where = (
            "the authentication service (for GoTo: https://authentication.logmeininc.com)"
            if setting == "OAUTH_SERVICE_URL"
            else "the API's host"
        )
        super().__init__(
            f"{url} answered HTTP {status} with {content_type or 'no content type'} instead of "
            f"JSON: {shown!r}. Check that {setting} points at {where}."
        )
