"""Notebook 2 (authorization URL): the PKCE challenge, and what PKCE adds to the URL."""

from __future__ import annotations

import base64
import hashlib

from ..config import DEFAULT_REDIRECT_URI, GOTO_SERVICE_URL, OAuthConfig
from .verdict import TODO, Verdict, exercise, not_done, right, wrong

#: RFC 7636 Appendix B's example verifier and the S256 challenge it gives.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@exercise
def check_challenge(challenge: str) -> Verdict:
    """Exercise 2.1: the S256 challenge of RFC 7636 Appendix B's verifier, computed by hand."""
    if not_done(challenge):
        return TODO
    digest = hashlib.sha256(RFC7636_VERIFIER.encode("ascii")).digest()
    if challenge == RFC7636_CHALLENGE:
        return right(
            "BASE64URL(SHA256(ASCII(verifier))) without '=' padding (RFC 7636 §4.2): the value "
            "Appendix B prints."
        )
    if not isinstance(challenge, str):
        return wrong(f"a challenge is a string; this is a {type(challenge).__name__}.")
    if challenge == digest.hex():
        return wrong("that is the digest in hex; S256 wants base64url of the 32 raw bytes.")
    if challenge == base64.urlsafe_b64encode(digest).decode():
        return wrong("almost: drop the '=' padding at the end (RFC 7636 §3, 'base64url').")
    if challenge.rstrip("=") == base64.b64encode(digest).decode().rstrip("="):
        return wrong("that is standard base64 ('+' and '/'); base64url uses '-' and '_'.")
    if challenge == RFC7636_VERIFIER:
        return wrong("that is the verifier itself (the 'plain' method); S256 sends its hash.")
    return wrong(
        "not the challenge: hash the verifier's ASCII bytes with SHA-256, base64url-encode the "
        "digest, and strip the '='."
    )


EXAMPLE_CONFIG = OAuthConfig(
    service_url=GOTO_SERVICE_URL,
    client_id="made-up-client-id",
    client_secret="made-up-secret",
    redirect_uri=DEFAULT_REDIRECT_URI,
)


@exercise
def check_pkce_parameters(predicted: set[str]) -> Verdict:
    """Exercise 2.2: predict which URL parameters disappear without PKCE, then see."""
    if not_done(predicted):
        return TODO
    from ..authorization import AuthorizationRequest

    with_pkce = AuthorizationRequest.new(EXAMPLE_CONFIG).parameters
    without = AuthorizationRequest.new(EXAMPLE_CONFIG, pkce=False).parameters
    gone = set(with_pkce) - set(without)
    ran = f"Built just now without PKCE, the URL lacks: {', '.join(sorted(gone))}."
    predicted = set(predicted)
    if predicted == gone:
        return right(
            f"{ran} The verifier itself never is in the URL: it stays in the app until the "
            "token request (RFC 7636 §4.5). state stays: it is not part of PKCE."
        )
    missing, extra = gone - predicted, predicted - gone
    why = []
    if missing:
        why.append(f"{', '.join(sorted(missing))} go(es) too")
    if "code_verifier" in extra:
        why.append("code_verifier is never in the URL (it is secret until the token request)")
        extra.discard("code_verifier")
    if extra:
        why.append(f"{', '.join(sorted(extra))} stay(s): not part of PKCE")
    return wrong(f"{ran} {'; '.join(why)}.")
