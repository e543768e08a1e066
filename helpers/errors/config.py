"""Stage 1, and the class hub: the configuration cannot be used."""

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
