"""Notebook 4 (token exchange): the HTTP Basic header, both ways."""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

from .verdict import TODO, Verdict, exercise, not_done, right, wrong

#: A made-up client for the HTTP Basic exercises; the secret holds '+', '/' and '='.
EXAMPLE_CLIENT_ID = "tutorial-client"
EXAMPLE_SECRET = "Gh+7/xQ="
#: The header RFC 6749 §2.3.1 asks for: form-encode id and secret, then base64.
EXAMPLE_BASIC_HEADER = "Basic " + base64.b64encode(
    f"{quote_plus(EXAMPLE_CLIENT_ID)}:{quote_plus(EXAMPLE_SECRET)}".encode()
).decode("ascii")


@exercise
def check_basic_decoding(answer: tuple[str, str]) -> Verdict:
    """Exercise 4.1: the client id and secret inside ``EXAMPLE_BASIC_HEADER``."""
    if not_done(answer) or (isinstance(answer, tuple) and any(map(not_done, answer))):
        return TODO
    try:
        client_id, secret = answer
    except (TypeError, ValueError):
        return wrong("give a pair: (client_id, client_secret).")
    if (client_id, secret) == (EXAMPLE_CLIENT_ID, EXAMPLE_SECRET):
        return right(
            "base64-decode, split at the first ':', then undo the form-encoding of each half "
            "(urllib.parse.unquote_plus), as RFC 6749 §2.3.1 has the server do."
        )
    if secret == quote_plus(EXAMPLE_SECRET):
        return wrong(
            "you decoded the base64 but not the form-encoding: %2B, %2F and %3D are '+', '/' "
            "and '='. Apply urllib.parse.unquote_plus to each half."
        )
    if (secret, client_id) == (EXAMPLE_CLIENT_ID, EXAMPLE_SECRET):
        return wrong("the id comes first, then ':', then the secret.")
    return wrong("not the pair in the header: strip 'Basic ', base64-decode, split at ':'.")


@exercise
def check_raw_basic(header: str) -> Verdict:
    """Exercise 4.2: the header GoTo's pages describe for the example client (raw, no encoding)."""
    if not_done(header):
        return TODO
    raw = "Basic " + base64.b64encode(f"{EXAMPLE_CLIENT_ID}:{EXAMPLE_SECRET}".encode()).decode()
    if header == raw:
        return right(
            "base64 of the raw 'id:secret', what GoTo's token pages show and what requests' "
            "HTTPBasicAuth sends. It differs from the RFC 6749 §2.3.1 header only because this "
            "secret holds '+', '/' and '='."
        )
    if header == EXAMPLE_BASIC_HEADER:
        return wrong(
            "that is the RFC 6749 §2.3.1 header (form-encoded first, what ClientSecretBasic "
            "sends). GoTo's pages base64 the raw 'id:secret'."
        )
    if isinstance(header, str) and header == raw.removeprefix("Basic "):
        return wrong("the header value starts with the scheme: 'Basic ' and then the base64.")
    return wrong("base64-encode the UTF-8 bytes of 'id:secret' and put 'Basic ' before it.")
