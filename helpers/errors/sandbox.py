"""The local sandbox could not start, or stopped while it was needed."""

from __future__ import annotations

from .base import OAuthTutorialError


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
