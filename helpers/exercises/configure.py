"""Notebook 1 (configure): the .env values, and a random state."""

from __future__ import annotations

from collections.abc import Callable

from ..config import DEFAULT_REDIRECT_URI, GOTO_SERVICE_URL, validate
from ..errors import ConfigError
from .verdict import TODO, Verdict, exercise, not_done, right, source_of, wrong


@exercise
def check_env(values: dict[str, str]) -> Verdict:
    """Exercise 1.1: the broken .env values, fixed to talk to GoTo as the tutorial registers."""
    if not_done(values):
        return TODO
    try:
        validate(values)
    except ConfigError as error:
        return wrong(f"config.validate still finds {len(error.problems)} problem(s): {error}")
    if values.get("OAUTH_REDIRECT_URI") != DEFAULT_REDIRECT_URI:
        return wrong(
            "the redirect URI is valid, but not the one registered on tutorial-oauth-client, "
            f"{DEFAULT_REDIRECT_URI}: the server compares the two as exact strings "
            "(RFC 9700 §4.1.3), so any other one is refused."
        )
    if values.get("OAUTH_SERVICE_URL", "").rstrip("/") != GOTO_SERVICE_URL:
        return wrong(f"GoTo's authorization server is {GOTO_SERVICE_URL} (GoTo's tutorial).")
    return right(
        "https keeps the secret encrypted on its way to GoTo, and 127.0.0.1 keeps the "
        "listener reachable from this machine only."
    )


@exercise
def check_make_state(make_state: Callable[[], str]) -> Verdict:
    """Exercise 1.2: Node's ``crypto.randomBytes(15).toString('hex')``, in Python."""
    if not_done(make_state):
        return TODO
    first, second = make_state(), make_state()
    if not_done(first) or first is None:
        return TODO
    if not isinstance(first, str):
        return wrong(f"a state is a string; this returned a {type(first).__name__}.")
    if len(first) != 30 or any(c not in "0123456789abcdef" for c in first):
        return wrong(
            f"15 random bytes written in hex are 30 characters 0-9a-f; this gave {len(first)} "
            "characters. Try secrets.token_hex(15)."
        )
    if first == second:
        return wrong("two calls gave the same state: it must be new and random for each sign-in.")
    code = source_of(make_state)
    if "random." in code and "secrets" not in code:
        return wrong(
            "the random module is predictable by design (Python's docs say not to use it for "
            "security); the secrets module is Python's crypto.randomBytes."
        )
    return right("30 hex characters from 120 random bits, new on every call, like app.js's.")
