"""Stage 5: the API refused the call made with the token (RFC 6750 §3.1)."""

from __future__ import annotations

from .base import OAuthTutorialError


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
