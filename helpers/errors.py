"""Every failure a learner can cause, as a named exception.

Each message says what happened and what to do next, in a sentence or two. Catch
``OAuthTutorialError`` to catch them all.
"""

from __future__ import annotations


class OAuthTutorialError(Exception):
    """Base class of every error the tutorial's helpers raise on purpose."""


# --- stage 1: configuration -------------------------------------------------------------------


class ConfigError(OAuthTutorialError):
    """The OAuth client's values in ``.env`` (or the environment) are missing or wrong.

    ``problems`` maps each variable name to what is wrong with it.
    """

    def __init__(self, problems: dict[str, str], source: str = ".env") -> None:
        self.problems = dict(problems)
        lines = [f"  {name}: {why}" for name, why in self.problems.items()]
        super().__init__(
            f"The OAuth client configuration has {len(lines)} problem(s):\n"
            + "\n".join(lines)
            + f"\nFix them in {source} (see .env.example), then run this cell again."
        )


# --- stage 3: the callback ---------------------------------------------------------------------


class CallbackError(OAuthTutorialError):
    """The authorization server's redirect back to us did not yield a usable code."""


class AuthorizationDenied(CallbackError):
    """The user clicked Deny (``error=access_denied``)."""

    def __init__(self, description: str | None = None) -> None:
        self.error = "access_denied"
        self.description = description
        detail = f" The server said: {description!r}." if description else ""
        super().__init__(
            "The user refused access on the consent page (error=access_denied)."
            + detail
            + " Start a new sign-in and click Allow to grant the scopes."
        )


class AuthorizationFailed(CallbackError):
    """The authorization server redirected back with an error other than access_denied."""

    def __init__(self, error: str, description: str | None = None) -> None:
        self.error = error
        self.description = description
        detail = f" ({description})" if description else ""
        super().__init__(
            f"The authorization server refused the request with error={error!r}{detail}. "
            "Check the client ID, redirect URI and scopes in your configuration, then start again."
        )


class CallbackTimeout(CallbackError):
    """No valid callback arrived before the deadline."""

    def __init__(self, seconds: float, redirect_uri: str) -> None:
        self.seconds = seconds
        self.redirect_uri = redirect_uri
        super().__init__(
            f"No valid callback reached {redirect_uri} within {seconds:g} s. Did you sign in and "
            "click Allow? If the browser showed an error page from the authorization server, the "
            "redirect URI may not match the one registered on the client exactly (port "
            "included). If Jupyter runs on another machine (JupyterHub, SSH, Docker, WSL), the "
            "browser cannot reach this address: paste the address your browser ended on instead."
        )


class PortInUse(CallbackError):
    """Another program (or an old listener) already listens on the redirect URI's port."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        hint = (
            " On macOS, port 5000 is often taken by the AirPlay Receiver: turn it off in "
            "System Settings > General > AirDrop & Handoff, or register another port."
            if port == 5000
            else ""
        )
        super().__init__(
            f"Port {port} on {host} is already in use, so the callback listener cannot start."
            + hint
            + " Stop the program using it (or restart the kernel that holds it) and try again."
        )


class StateMismatch(CallbackError):
    """The callback's ``state`` is missing or differs from the one we sent (possible CSRF)."""

    def __init__(self) -> None:
        super().__init__(
            "The callback's state does not match the state of this sign-in attempt, so its code "
            "was refused (this is how a forged callback is stopped). Use the address from the "
            "sign-in you started last, or start a new sign-in."
        )


class ListenerStopped(CallbackError):
    """The listener was stopped (or replaced by a newer one) before a callback arrived."""

    def __init__(self) -> None:
        super().__init__(
            "This listener was stopped before a callback arrived (stop() was called, or a newer "
            "listener on the same port replaced it, e.g. when a cell was run again). Wait on the "
            "newest listener, or start a new sign-in."
        )


class CannotListen(CallbackError):
    """The listener could not bind its address for a reason other than a busy port."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        self.host = host
        self.port = port
        super().__init__(
            f"Cannot listen on {host} port {port}: {reason}. If the redirect URI uses [::1], this "
            "machine may have IPv6 turned off: register http://127.0.0.1:PORT/... instead."
        )


class InvalidCallbackAddress(CallbackError):
    """A pasted address is not a callback to our redirect URI."""

    def __init__(self, why: str) -> None:
        super().__init__(
            f"That address is not a callback for this sign-in: {why}. Paste the whole address "
            "from your browser's address bar after clicking Allow."
        )


class RepeatedSignIn(CallbackError):
    """A sign-in cell was run again while its sign-in was still waiting."""

    def __init__(self) -> None:
        super().__init__(
            "This cell was run again while its sign-in was still waiting (Shift+Enter after "
            "clicking the sign-in link runs the cell that holds it). No second sign-in was "
            "started: the first one finished, and what it gave is kept. Next: click the next "
            "cell, then Shift+Enter. To sign in again, run this cell once more."
        )


# --- stage 4: the token endpoint -----------------------------------------------------------


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


class ClassroomError(OAuthTutorialError):
    """On a class's JupyterHub, the class callback service could not take this sign-in."""


class ProxyUnavailable(OAuthTutorialError):
    """This kernel's Jupyter server runs elsewhere than the browser, and the sign-in cannot come
    back through its jupyter-server-proxy: the reason, and what happens instead."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Signing in through Jupyter's proxy is not possible here: {reason}. The browser "
            "will be sent to this kernel's 127.0.0.1 instead, which it may not reach: then it "
            "ends on an error page, and the sign-in cell asks you to paste that page's address "
            "(docs/proxy.md says more)."
        )


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
        from .redact import redact_body  # the answer may hold a credential in an unexpected form

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


# --- calling an API with the token --------------------------------------------------------------


class ApiError(OAuthTutorialError):
    """An API call with the bearer token failed.

    ``meaning`` says what the status means; ``next_step`` what to do. When the API's own
    description says what went wrong, only the next step is added to it.
    """

    meaning = ""
    next_step = "Read the API's answer above."

    def __init__(
        self, status: int, error: str | None = None, description: str | None = None
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        said = f" error={error!r}" if error else ""
        said += f": {description.rstrip('. ')}" if description else ""
        advice = self.next_step if description or not self.meaning else self.advice
        super().__init__(f"The API answered HTTP {status}{said}. {advice}")

    @property
    def advice(self) -> str:
        return f"{self.meaning} {self.next_step}".strip()


class InvalidToken(ApiError):
    meaning = "The access token is missing, expired or revoked (RFC 6750 §3.1, invalid_token)."
    next_step = "Refresh it (tokens.refresh), or sign in again."


class InsufficientScope(ApiError):
    meaning = (
        "The token is valid but lacks the scope this call needs (RFC 6750 §3.1, "
        "insufficient_scope)."
    )
    next_step = "Sign in again requesting that scope (it must be set on the OAuth client)."


# --- the local sandbox ---------------------------------------------------------------------


class SandboxError(OAuthTutorialError):
    """The local sandbox could not be started or reached."""


class SandboxStopped(SandboxError):
    """The local sandbox stopped answering while a sign-in waited for it."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"The local sandbox at {url} stopped answering while you were signing in, so the "
            "browser cannot finish the sign-in (it shows 'refused to connect'). Its log, "
            "sandbox.log in the sandbox's data folder (.sandbox/ by default), says why it "
            "stopped. Start it again (run notebook 01's sandbox cell, or `python -m "
            "helpers.sandbox` in a terminal), then run the sign-in again."
        )
