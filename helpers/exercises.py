"""The notebooks' exercises: one check per exercise, saying right or wrong, and why.

    >>> from helpers import exercises
    >>> exercises.check_challenge(...)                 # the learner's cell, not done yet
    … Not done yet: replace the ... with your answer, then run the cell again.
    >>> exercises.check_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    ✔ Right: ...

A check never raises for a wrong or missing answer: it returns a ``Verdict`` (shown as one
line), so "Run All" goes through a notebook whose exercises are still open. Every example
credential in here is made up.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, quote_plus, urlsplit

from . import hub
from .config import DEFAULT_REDIRECT_URI, GOTO_SERVICE_URL, OAuthConfig, validate
from .errors import ConfigError, PortInUse
from .loopback import free_port

#: RFC 7636 Appendix B's example verifier and the S256 challenge it gives.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

#: A made-up client for the HTTP Basic exercises; the secret holds '+', '/' and '='.
EXAMPLE_CLIENT_ID = "tutorial-client"
EXAMPLE_SECRET = "Gh+7/xQ="
#: The header RFC 6749 §2.3.1 asks for: form-encode id and secret, then base64.
EXAMPLE_BASIC_HEADER = "Basic " + base64.b64encode(
    f"{quote_plus(EXAMPLE_CLIENT_ID)}:{quote_plus(EXAMPLE_SECRET)}".encode()
).decode("ascii")

#: The code the attacker of notebook 6's exercise got from their own sign-in.
ATTACKER_CODE = "code-from-the-attackers-own-sign-in"


@dataclass(frozen=True)
class Verdict:
    """A check's answer: ``status`` is right, wrong or todo; ``why`` says why."""

    status: str
    why: str

    __post_init__ = hub.report_exercise  # on a class hub, each check reaches the instructor page

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        label = {"right": "✔ Right", "wrong": "✘ Not right yet", "todo": "… Not done yet"}
        return f"{label[self.status]}: {self.why}"

    __repr__ = __str__


def _right(why: str) -> Verdict:
    return Verdict("right", why)


def _wrong(why: str) -> Verdict:
    return Verdict("wrong", why)


TODO = Verdict("todo", "replace the ... with your answer, then run the cell again.")


def _todo(value: object) -> bool:
    return value is Ellipsis


def _source(function: Callable) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


# --- notebook 1 -------------------------------------------------------------------------------


def check_env(values: dict[str, str]) -> Verdict:
    """Exercise 1.1: the broken .env values, fixed to talk to GoTo as the tutorial registers."""
    if _todo(values):
        return TODO
    try:
        validate(values)
    except ConfigError as error:
        return _wrong(f"config.validate still finds {len(error.problems)} problem(s): {error}")
    if values.get("OAUTH_REDIRECT_URI") != DEFAULT_REDIRECT_URI:
        return _wrong(
            "the redirect URI is valid, but not the one registered on tutorial-oauth-client, "
            f"{DEFAULT_REDIRECT_URI}: the server compares the two as exact strings "
            "(RFC 9700 §4.1.3), so any other one is refused."
        )
    if values.get("OAUTH_SERVICE_URL", "").rstrip("/") != GOTO_SERVICE_URL:
        return _wrong(f"GoTo's authorization server is {GOTO_SERVICE_URL} (GoTo's tutorial).")
    return _right(
        "https keeps the secret encrypted on its way to GoTo, and 127.0.0.1 keeps the "
        "listener reachable from this machine only."
    )


def check_make_state(make_state: Callable[[], str]) -> Verdict:
    """Exercise 1.2: Node's ``crypto.randomBytes(15).toString('hex')``, in Python."""
    if _todo(make_state):
        return TODO
    first, second = make_state(), make_state()
    if _todo(first) or first is None:
        return TODO
    if not isinstance(first, str):
        return _wrong(f"a state is a string; this returned a {type(first).__name__}.")
    if len(first) != 30 or any(c not in "0123456789abcdef" for c in first):
        return _wrong(
            f"15 random bytes written in hex are 30 characters 0-9a-f; this gave {len(first)} "
            "characters. Try secrets.token_hex(15)."
        )
    if first == second:
        return _wrong("two calls gave the same state: it must be new and random for each sign-in.")
    code = _source(make_state)
    if "random." in code and "secrets" not in code:
        return _wrong(
            "the random module is predictable by design (Python's docs say not to use it for "
            "security); the secrets module is Python's crypto.randomBytes."
        )
    return _right("30 hex characters from 120 random bits, new on every call, like app.js's.")


# --- notebook 2 -------------------------------------------------------------------------------


def check_challenge(challenge: str) -> Verdict:
    """Exercise 2.1: the S256 challenge of RFC 7636 Appendix B's verifier, computed by hand."""
    if _todo(challenge):
        return TODO
    digest = hashlib.sha256(RFC7636_VERIFIER.encode("ascii")).digest()
    if challenge == RFC7636_CHALLENGE:
        return _right(
            "BASE64URL(SHA256(ASCII(verifier))) without '=' padding (RFC 7636 §4.2): the value "
            "Appendix B prints."
        )
    if not isinstance(challenge, str):
        return _wrong(f"a challenge is a string; this is a {type(challenge).__name__}.")
    if challenge == digest.hex():
        return _wrong("that is the digest in hex; S256 wants base64url of the 32 raw bytes.")
    if challenge == base64.urlsafe_b64encode(digest).decode():
        return _wrong("almost: drop the '=' padding at the end (RFC 7636 §3, 'base64url').")
    if challenge.rstrip("=") == base64.b64encode(digest).decode().rstrip("="):
        return _wrong("that is standard base64 ('+' and '/'); base64url uses '-' and '_'.")
    if challenge == RFC7636_VERIFIER:
        return _wrong("that is the verifier itself (the 'plain' method); S256 sends its hash.")
    return _wrong(
        "not the challenge: hash the verifier's ASCII bytes with SHA-256, base64url-encode the "
        "digest, and strip the '='."
    )


EXAMPLE_CONFIG = OAuthConfig(
    service_url=GOTO_SERVICE_URL,
    client_id="made-up-client-id",
    client_secret="made-up-secret",
    redirect_uri=DEFAULT_REDIRECT_URI,
)


def check_pkce_parameters(predicted: set[str]) -> Verdict:
    """Exercise 2.2: predict which URL parameters disappear without PKCE, then see."""
    if _todo(predicted):
        return TODO
    from .authorization import AuthorizationRequest

    with_pkce = AuthorizationRequest.new(EXAMPLE_CONFIG).parameters
    without = AuthorizationRequest.new(EXAMPLE_CONFIG, pkce=False).parameters
    gone = set(with_pkce) - set(without)
    ran = f"Built just now without PKCE, the URL lacks: {', '.join(sorted(gone))}."
    predicted = set(predicted)
    if predicted == gone:
        return _right(
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
    return _wrong(f"{ran} {'; '.join(why)}.")


# --- notebook 3 -------------------------------------------------------------------------------

_STATE_CASES = [
    ({"code": "c", "state": "s3cret-state"}, True, "the genuine callback was refused"),
    ({"code": "c", "state": "guessed"}, False, "a callback with a wrong state was accepted"),
    (
        {"code": "c"},
        False,
        "a callback with no state at all was accepted: an attacker simply leaves it out",
    ),
    ({"code": "c", "state": ""}, False, "a callback with an empty state was accepted"),
    ({"code": "c", "state": "s3cret"}, False, "a callback with half the state was accepted"),
]


def check_state_check(state_ok: Callable[[dict, str], bool]) -> Verdict:
    """Exercise 3.1: the broken state check, fixed."""
    if _todo(state_ok):
        return TODO
    for query, expected, failure in _STATE_CASES:
        got = state_ok(dict(query), "s3cret-state")
        if _todo(got):
            return TODO
        if bool(got) != expected:
            return _wrong(f"{failure} (query {query}).")
    tip = ""
    if "compare_digest" not in _source(state_ok):
        tip = " The helpers compare with secrets.compare_digest, whose time does not depend on "
        tip += "where the strings differ (see docs/troubleshooting.md)."
    return _right("only the exact state of this attempt gets through." + tip)


def check_tampered_state(tamper: Callable[[str], str]) -> Verdict:
    """Exercise 3.2: send the listener a callback whose state you changed, and watch the 403."""
    if _todo(tamper):
        return TODO
    from . import lab
    from .callback import CallbackListener

    state = secrets.token_urlsafe(20)
    tampered = tamper(state)
    if _todo(tampered) or tampered is None:
        return TODO
    if tampered == state:
        return _wrong("that is the genuine state, unchanged: the listener would accept it.")
    for _attempt in range(3):
        redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
        try:
            listener = CallbackListener(redirect_uri, state).start()
            break
        except PortInUse:
            continue
    else:
        return _wrong("no free port for the practice listener; run the cell again.")
    try:
        answer = lab.forge_callback(redirect_uri, state=str(tampered))
        waiting = listener.is_running
    finally:
        listener.stop()
    if answer.status == 403 and waiting:
        return _right(
            f"a practice listener got your tampered state and answered {answer}; it kept "
            "waiting for the genuine callback. One changed character is enough."
        )
    return _wrong(f"the practice listener answered {answer}, still waiting: {waiting}.")


# --- notebook 4 -------------------------------------------------------------------------------


def check_basic_decoding(answer: tuple[str, str]) -> Verdict:
    """Exercise 4.1: the client id and secret inside ``EXAMPLE_BASIC_HEADER``."""
    if _todo(answer) or (isinstance(answer, tuple) and any(map(_todo, answer))):
        return TODO
    try:
        client_id, secret = answer
    except (TypeError, ValueError):
        return _wrong("give a pair: (client_id, client_secret).")
    if (client_id, secret) == (EXAMPLE_CLIENT_ID, EXAMPLE_SECRET):
        return _right(
            "base64-decode, split at the first ':', then undo the form-encoding of each half "
            "(urllib.parse.unquote_plus), as RFC 6749 §2.3.1 has the server do."
        )
    if secret == quote_plus(EXAMPLE_SECRET):
        return _wrong(
            "you decoded the base64 but not the form-encoding: %2B, %2F and %3D are '+', '/' "
            "and '='. Apply urllib.parse.unquote_plus to each half."
        )
    if (secret, client_id) == (EXAMPLE_CLIENT_ID, EXAMPLE_SECRET):
        return _wrong("the id comes first, then ':', then the secret.")
    return _wrong("not the pair in the header: strip 'Basic ', base64-decode, split at ':'.")


def check_raw_basic(header: str) -> Verdict:
    """Exercise 4.2: the header GoTo's pages describe for the example client (raw, no encoding)."""
    if _todo(header):
        return TODO
    raw = "Basic " + base64.b64encode(f"{EXAMPLE_CLIENT_ID}:{EXAMPLE_SECRET}".encode()).decode()
    if header == raw:
        return _right(
            "base64 of the raw 'id:secret', what GoTo's token pages show and what requests' "
            "HTTPBasicAuth sends. It differs from the RFC 6749 §2.3.1 header only because this "
            "secret holds '+', '/' and '='."
        )
    if header == EXAMPLE_BASIC_HEADER:
        return _wrong(
            "that is the RFC 6749 §2.3.1 header (form-encoded first, what ClientSecretBasic "
            "sends). GoTo's pages base64 the raw 'id:secret'."
        )
    if isinstance(header, str) and header == raw.removeprefix("Basic "):
        return _wrong("the header value starts with the scheme: 'Basic ' and then the base64.")
    return _wrong("base64-encode the UTF-8 bytes of 'id:secret' and put 'Basic ' before it.")


# --- notebook 5 -------------------------------------------------------------------------------

STATUS_QUESTIONS = ("made-up token", "expired token", "valid token without the scope")


def check_status_prediction(prediction: dict[str, int]) -> Verdict:
    """Exercise 5.1: the status an API answers in each case (RFC 6750 §3.1)."""
    if _todo(prediction) or any(_todo(v) for v in dict(prediction).values()):
        return TODO
    expected = {"made-up token": 401, "expired token": 401, "valid token without the scope": 403}
    for case, status in expected.items():
        if prediction.get(case) != status:
            why = (
                "401 invalid_token: the API does not accept the token at all (unknown, expired, "
                "revoked); renew it"
                if status == 401
                else "403 insufficient_scope: the token is valid but does not allow this call; "
                "sign in again asking for the scope"
            )
            return _wrong(f"{case}: {prediction.get(case)}, but RFC 6750 §3.1 says {why}.")
    return _right(
        "401 means 'renew the token', 403 means 'this token may not make this call' (RFC 6750 §3.1)."
    )


def check_after_refresh(after_refresh: Callable[[dict, dict], dict]) -> Verdict:
    """Exercise 5.2: the tokens to keep after a refresh, fixed to keep the old refresh token."""
    if _todo(after_refresh):
        return TODO
    old = {"access_token": "AT-old", "refresh_token": "RT-old"}
    usual = after_refresh(dict(old), {"access_token": "AT-new", "expires_in": 3600})
    if _todo(usual):
        return TODO
    if usual.get("access_token") != "AT-new":
        return _wrong("after a refresh the app must use the new access token.")
    if usual.get("refresh_token") != "RT-old":
        return _wrong(
            "GoTo's refresh answer usually carries no refresh_token (GoTo's refresh-token "
            "page): keep the old one, or the next refresh fails and the user must sign in again."
        )
    rotated = after_refresh(
        dict(old), {"access_token": "AT-new", "refresh_token": "RT-new", "expires_in": 3600}
    )
    if rotated.get("refresh_token") != "RT-new":
        return _wrong(
            "when the answer does carry a new refresh_token, use it: the server may have "
            "retired the old one (RFC 6749 §6)."
        )
    return _right("the new refresh token when one comes back, otherwise the old one.")


# --- notebook 6 -------------------------------------------------------------------------------


class NaiveHandler(BaseHTTPRequestHandler):
    """A callback handler with no state check: it takes any code it is given."""

    def do_GET(self):
        query = parse_qs(urlsplit(self.path).query)
        if "code" in query:
            self.server.codes.append(query["code"][0])  # and the app would exchange it...
            self.send_response(200)
        else:
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


class NaiveListener:
    """``NaiveHandler`` on a free loopback port, in a thread: ``with NaiveListener() as n:``."""

    def __enter__(self) -> NaiveListener:
        self.server = HTTPServer(("127.0.0.1", 0), NaiveHandler)
        self.server.codes = []
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}/login/oauth2/code/goto"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def codes(self) -> list[str]:
        return self.server.codes

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def check_naive_forgery(forge: Callable[[str], str]) -> Verdict:
    """Exercise 6.1: a forged callback that the naive listener takes and the real one refuses."""
    if _todo(forge):
        return TODO
    from . import lab
    from .callback import CallbackListener

    with NaiveListener() as naive:
        url = forge(naive.redirect_uri)
        if _todo(url) or url is None:
            return TODO
        if not str(url).startswith(naive.redirect_uri + "?"):
            return _wrong(
                "the forged address must be the redirect URI followed by '?' and a query."
            )
        naive_answer = lab.probe(str(url))
        taken = list(naive.codes)
    if taken != [ATTACKER_CODE]:
        return _wrong(
            f"the naive listener answered HTTP {naive_answer.status} and took {taken or 'no code'}"
            f"; deliver exercises.ATTACKER_CODE as the code."
        )
    real = CallbackListener(naive.redirect_uri, secrets.token_urlsafe(20)).start()
    try:
        real_answer = lab.probe(str(url))
    finally:
        real.stop()
    if real_answer.status != 403:
        return _wrong(f"the state-checking listener answered {real_answer}, not 403.")
    return _right(
        f"the naive listener took the attacker's code (HTTP {naive_answer.status}): its app would "
        f"now work in the attacker's account. The same address to a listener that checks state: "
        f"{real_answer}."
    )
