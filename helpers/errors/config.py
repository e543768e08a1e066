"""Stage 1, the class hub, and Jupyter's proxy: the configuration cannot be used."""

from __future__ import annotations

from .base import OAuthTutorialError


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
