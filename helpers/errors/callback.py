"""Stage 3: the callback did not bring a code (denied, forged, late, or no port to listen on)."""

from __future__ import annotations

from .base import OAuthTutorialError


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
