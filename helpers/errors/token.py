"""Stage 4: the token endpoint refused, or there is no usable token (RFC 6749 §5.2)."""

from __future__ import annotations

from .base import OAuthTutorialError


class TokenError(OAuthTutorialError):
    """The token endpoint refused a request (an RFC 6749 §5.2 error response).

    ``grant``: the grant attempted (``authorization_code``, ``refresh_token``; None when not a
    grant, e.g. a revocation); ``pkce``: whether a code verifier was sent. With the server's
    ``description``, they choose the advice that fits (``advice_for``).
    """

    #: What this error usually means for a learner; subclasses override it.
    advice = "Read the server's description above and check your configuration."

    def __init__(
        self,
        error: str,
        description: str | None = None,
        status: int | None = None,
        *,
        grant: str | None = None,
        pkce: bool = False,
    ) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.grant = grant
        self.pkce = pkce
        said = f": {description.rstrip('. ')}" if description else ""
        code = f"HTTP {status}, " if status else ""
        super().__init__(
            f"The token endpoint answered {code}error={error!r}{said}. {self.advice_for()}"
        )

    def advice_for(self) -> str:
        """The advice for this grant and this description (by default: ``advice``)."""
        return self.advice


class InvalidGrant(TokenError):
    advice = (
        "The code (or refresh token) was already used, has expired, or was issued for another "
        "redirect URI or client. Codes are single-use and short-lived: start a new sign-in."
    )

    def advice_for(self) -> str:
        said = (self.description or "").lower()
        if self.grant == "refresh_token":
            return (
                "Refreshing cannot help once the refresh token is revoked, expired or (where "
                "the server rotates them) already used (RFC 6749 §6, §10.4): sign in again for "
                "a new token."
            )
        if "redirect_uri" in said:
            return (
                "The token request must carry exactly the redirect URI of the authorization "
                "request that brought this code (RFC 6749 §4.1.3): exchange the code with the "
                "request it came from, or start a new sign-in."
            )
        if "verifier" in said or "pkce" in said:
            return self._pkce
        if "already used" in said:
            return "Start a new sign-in for a new code."
        if "expired" in said:
            return "Exchange a code as soon as it arrives; start a new sign-in for a new one."
        if self.grant == "authorization_code" and self.pkce and not said:
            return (
                "The server gave no reason. The usual one: "
                + self._pkce[0].lower()
                + self._pkce[1:]
                + " Otherwise the code was used already or expired: start a new sign-in."
            )
        return self.advice

    _pkce = (
        "The PKCE code verifier does not match the code challenge of the sign-in that brought "
        "this code (RFC 7636 §4.6). Only the request that started a sign-in holds its verifier: "
        "exchange the code with that request."
    )


class InvalidClient(TokenError):
    advice = (
        "The server did not accept the client credentials: check OAUTH_CLIENT_ID and "
        "OAUTH_CLIENT_SECRET in .env (the secret is shown only once, when the client is created)."
    )


class InvalidScope(TokenError):
    advice = (
        "A requested scope is unknown or not set on the OAuth client. Request only scopes your "
        "client has (see its Scopes tab at GoTo)."
    )


class InvalidRequest(TokenError):
    advice = (
        "The request was missing a parameter or had a wrong one (for example a PKCE code "
        "verifier that does not match the challenge). Start a new sign-in."
    )


class UnauthorizedClient(TokenError):
    advice = "This client may not use this grant type: check the client's settings at GoTo."


class UnsupportedGrantType(TokenError):
    advice = "The server does not support this grant type."


class TemporarilyUnavailable(TokenError):
    advice = "The server is overloaded or down for maintenance: wait a moment and try again."


class ServerError(TokenError):
    advice = "The server failed while handling the request: try again later."


#: RFC 6749 error code -> exception class.
TOKEN_ERRORS: dict[str, type[TokenError]] = {
    "invalid_grant": InvalidGrant,
    "invalid_client": InvalidClient,
    "invalid_scope": InvalidScope,
    "invalid_request": InvalidRequest,
    "unauthorized_client": UnauthorizedClient,
    "unsupported_grant_type": UnsupportedGrantType,
    "temporarily_unavailable": TemporarilyUnavailable,
    "server_error": ServerError,
}


class NoSavedToken(OAuthTutorialError):
    """There is no saved token to load (or the file is unreadable)."""

    def __init__(self, path: str, why: str = "no token has been saved yet") -> None:
        self.path = path
        super().__init__(
            f"Cannot load a token from {path}: {why}. Run 04_token_exchange (or "
            "`python -m helpers`) to sign in and save one."
        )


class TokenExpired(OAuthTutorialError):
    """The access token has expired and there is no refresh token to renew it."""

    def __init__(self) -> None:
        super().__init__(
            "The access token has expired and there is no refresh token to renew it. "
            "Sign in again to get a new one."
        )
