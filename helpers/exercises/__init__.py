"""The notebooks' exercises: one check per exercise, saying right or wrong, and why.

    >>> from helpers import exercises
    >>> exercises.check_challenge(...)                 # the learner's cell, not done yet
    … Not done yet: replace the ... with your answer, then run the cell again.
    >>> exercises.check_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    ✔ Right: ...

A check never raises for a wrong or missing answer: it returns a ``Verdict`` (shown as one
line), so "Run All" goes through a notebook whose exercises are still open. Every example
credential in here is made up.

One module per notebook: ``configure``, ``authorization_url``, ``callback_listener``,
``token_exchange``, ``calling_the_api``, ``security_lab``; ``verdict`` is what they share.
"""

from .authorization_url import (
    EXAMPLE_CONFIG,
    RFC7636_CHALLENGE,
    RFC7636_VERIFIER,
    check_challenge,
    check_pkce_parameters,
)
from .callback_listener import check_state_check, check_tampered_state
from .calling_the_api import STATUS_QUESTIONS, check_after_refresh, check_status_prediction
from .configure import check_env, check_make_state
from .security_lab import ATTACKER_CODE, NaiveHandler, NaiveListener, check_naive_forgery
from .token_exchange import (
    EXAMPLE_BASIC_HEADER,
    EXAMPLE_CLIENT_ID,
    EXAMPLE_SECRET,
    check_basic_decoding,
    check_raw_basic,
)
from .verdict import TODO, Verdict

__all__ = [
    "TODO",
    "Verdict",
    "check_env",
    "check_make_state",
    "EXAMPLE_CONFIG",
    "RFC7636_CHALLENGE",
    "RFC7636_VERIFIER",
    "check_challenge",
    "check_pkce_parameters",
    "check_state_check",
    "check_tampered_state",
    "EXAMPLE_BASIC_HEADER",
    "EXAMPLE_CLIENT_ID",
    "EXAMPLE_SECRET",
    "check_basic_decoding",
    "check_raw_basic",
    "STATUS_QUESTIONS",
    "check_after_refresh",
    "check_status_prediction",
    "ATTACKER_CODE",
    "NaiveHandler",
    "NaiveListener",
    "check_naive_forgery",
]
