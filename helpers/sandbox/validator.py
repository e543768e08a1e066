"""Every policy decision of the sandbox, as oauthlib ``RequestValidator`` methods over the store.

oauthlib does the protocol (parsing, the order of checks, the error shapes, the token format);
this class answers its questions ("is this client real?", "is this code still good?") and
records what it issues. Where oauthlib alone is laxer than the RFCs, the stricter rule lives
here or in the small custom validators at the bottom, each with the RFC that asks for it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit

from oauthlib.oauth2 import RequestValidator
from oauthlib.oauth2.rfc6749 import errors

from ..loopback import is_loopback
from . import defaults
from .defaults import ANY_PORT
from .store import Client, Store

log = logging.getLogger(__name__)

#: The scopes this sandbox knows, with the plain-language line the consent page shows.
SCOPES: dict[str, str] = {
    "messaging.v1.send": "Send text messages (SMS) from your GoTo phone numbers",
    "messaging.v1.read": "Read your text-message conversations",
    "messaging.v1.notifications.manage": "Get notified when a new text message arrives",
    # /identity/v1/Users/me answers any valid token (see ProtectedApi.who_am_i), so this line must
    # not promise that declining the scope hides the user's name and email.
    "identity:scim.me": "Read and modify your user profile, as GoTo's scope picker describes it "
    "(this sandbox shows your name and email to any app you allow, with or without this scope)",
    "call-events.v1.notifications.manage": "Get notified about your phone calls",
}

#: RFC 7636 §4.1: code_verifier = 43*128unreserved
VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
#: RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) without padding: 43 chars
CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-_]{43}$")

BASIC_ONLY = (
    "GoTo expects the client credentials in an HTTP Basic Authorization header "
    "(Authorization: Basic base64(client_id:client_secret)), not in the request body"
)


@dataclass
class Settings:
    """The sandbox's tunable numbers; the fault switches change some of them while it runs."""

    access_token_lifetime: int = defaults.ACCESS_TOKEN_LIFETIME
    refresh_token_lifetime: int = defaults.REFRESH_TOKEN_LIFETIME
    code_lifetime: int = defaults.CODE_LIFETIME
    refresh_mode: str = (
        defaults.REFRESH_MODE
    )  # "goto": keep the refresh token; "rotate": RFC 9700 §4.14

    @property
    def rotate(self) -> bool:
        return self.refresh_mode == "rotate"


def parse_basic(header: str | None) -> tuple[str, str, str] | None:
    """Decode ``Authorization: Basic ...`` into (client_id, secret, raw_secret).

    RFC 6749 §2.3.1 says the client form-encodes its id and secret before base64; GoTo's own
    example header uses the raw secret. The first two values are the form-decoded reading, the
    third the raw one: the caller accepts a secret matching either.
    """
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if ":" not in decoded:
        return None
    raw_id, _, raw_secret = decoded.partition(":")
    return unquote_plus(raw_id), unquote_plus(raw_secret), raw_secret


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string match, except the port of a loopback IP redirect URI (RFC 8252 §7.3).

    And the sandbox's own rule, which GoTo does not have: ``{port}`` in a registered URI's path
    matches any port number there, for a listener reached through jupyter-server-proxy's
    ``/proxy/<port>/`` (each kernel's listener has a port of its own).
    """
    if hmac.compare_digest(registered.encode(), requested.encode()):
        return True
    if ANY_PORT in urlsplit(registered).path:
        head, _, tail = registered.partition(ANY_PORT)
        port = requested[len(head) : len(requested) - len(tail)]
        return (
            requested.startswith(head)
            and requested.endswith(tail)
            and len(requested) >= len(head) + len(tail)
            and port.isascii()
            and port.isdigit()
            and len(port) <= 5
            and 0 < int(port) <= 65535
        )
    reg, req = urlsplit(registered), urlsplit(requested)
    if not (is_loopback(reg.hostname, name=False) and reg.scheme == "http"):
        return False
    try:
        req.port  # noqa: B018 - a malformed port raises ValueError
    except ValueError:
        return False
    return (
        req.scheme == reg.scheme
        and req.hostname == reg.hostname
        and req.path == reg.path
        and req.query == reg.query
        and not req.fragment
        and req.username is None
        and req.password is None
    )


class SandboxValidator(RequestValidator):
    """The sandbox's answers to oauthlib, backed by SQLite (see ``store.py``)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__()
        self.store = store
        self.settings = settings

    # --- client authentication (token and revocation endpoints) -----------------------------

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        """Every sandbox client is confidential, like GoTo's: always authenticate."""
        return True

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """Authenticate the client from the HTTP Basic header, the only way GoTo accepts.

        Accepts both the RFC 6749 §2.3.1 form-encoded credentials and raw ones (GoTo's example).
        Credentials in the body are refused with a description that says why. Sets
        ``request.client``.
        """
        if request.client_secret is not None:
            raise errors.InvalidClientError(description=BASIC_ONLY, request=request)
        parsed = parse_basic(request.headers.get("Authorization"))
        if parsed is None:
            description = (
                "Client authentication failed: no valid HTTP Basic Authorization header. "
                + BASIC_ONLY
            )
            raise errors.InvalidClientError(description=description, request=request)
        client_id, secret, raw_secret = parsed
        client = self.store.get_client(client_id)
        if client is None:
            raise errors.InvalidClientError(
                description="Client authentication failed: unknown client_id.", request=request
            )
        expected = client.client_secret.encode()
        if not (
            hmac.compare_digest(expected, secret.encode())
            or hmac.compare_digest(expected, raw_secret.encode())
        ):
            raise errors.InvalidClientError(
                description="Client authentication failed: wrong client secret.", request=request
            )
        if request.client_id and request.client_id != client.client_id:
            # oauthlib would answer server_error; it is the client's mistake.
            raise errors.InvalidClientError(
                description="The client_id in the body differs from the authenticated client.",
                request=request,
            )
        request.client = client
        request.client_id = client.client_id
        return True

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        """Public clients do not exist here (never called: every client is confidential)."""
        return False

    # --- the authorization request ----------------------------------------------------------

    def validate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        """Is this a registered client? An unknown one gets an error page, never a redirect."""
        client = self.store.get_client(client_id)
        if client is not None:
            request.client = client
        return client is not None

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs) -> bool:
        """Exact match with a registered URI, any port for loopback IPs (RFC 8252 §7.3)."""
        client = self.store.get_client(client_id)
        return client is not None and any(
            redirect_uri_matches(registered, redirect_uri) for registered in client.redirect_uris
        )

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs) -> str | None:
        """The registered URI when there is exactly one (RFC 6749 §3.1.2.3)."""
        client = self.store.get_client(client_id)
        if client is not None and len(client.redirect_uris) == 1:
            return client.redirect_uris[0]
        return None

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        """Only the authorization code grant: ``response_type=code``."""
        return response_type == "code"

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        """Only scopes set on the client may be requested (as at GoTo); else invalid_scope."""
        client = self.store.get_client(client_id)
        if client is None or not scopes:
            return False
        unknown = [s for s in scopes if s not in client.scopes]
        if unknown:
            raise errors.InvalidScopeError(
                description=f"Scope not set on this client: {' '.join(unknown)}", request=request
            )
        return True

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        """No scope requested: grant the client's first scope (messaging.v1.send for the demo)."""
        client = self.store.get_client(client_id)
        return list(client.scopes[:1]) if client else []

    def is_pkce_required(self, client_id, request) -> bool:
        """PKCE is optional, as at GoTo (which documents nothing about it)."""
        return False

    def save_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Record a code bound to client, user, redirect URI, scopes and PKCE challenge."""
        self.store.put_code(
            code["code"],
            client_id=client_id,
            email=request.user,
            redirect_uri=request.redirect_uri,
            redirect_uri_given=not getattr(request, "using_default_redirect_uri", False),
            scopes=list(request.scopes),
            challenge=request.code_challenge,
            challenge_method=request.code_challenge_method if request.code_challenge else None,
            lifetime=self.settings.code_lifetime,
        )

    # --- the token request: authorization_code ----------------------------------------------

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        """Both grants of the Authorization Code flow are allowed to every client."""
        return grant_type in ("authorization_code", "refresh_token")

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        """Is this code ours, for this client, unexpired and unused? Sets user and scopes.

        A code presented again after a successful exchange is a replay: refuse it and revoke
        every token issued from it (RFC 6749 §4.1.2).
        """
        row = self.store.get_code(code)
        if row is None:
            raise errors.InvalidGrantError(
                description="Unknown authorization code.", request=request
            )
        if row.client_id != client_id:
            raise errors.InvalidGrantError(
                description="This authorization code was issued to another client.",
                request=request,
            )
        if row.used:
            revoked = self.store.mark_code_reused(code)
            log.info("authorization code replayed; %d token(s) revoked", revoked)
            raise errors.InvalidGrantError(
                description=(
                    "This authorization code was already used. Codes are single-use; the "
                    "tokens issued from it have been revoked (RFC 6749 section 4.1.2)."
                ),
                request=request,
            )
        if row.expires_at <= _now():
            raise errors.InvalidGrantError(
                description="This authorization code has expired.", request=request
            )
        request.user = row.email
        request.scopes = list(row.scopes)
        request.sandbox_code = row
        return True

    def get_code_challenge(self, code, request) -> str | None:
        """The PKCE challenge stored with the code, if the authorization request had one."""
        row = self.store.get_code(code)
        return row.challenge if row else None

    def get_code_challenge_method(self, code, request) -> str | None:
        row = self.store.get_code(code)
        return row.challenge_method if row else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *a, **kw):
        """The token request's redirect_uri must be identical to the authorization request's.

        RFC 6749 §4.1.3 and §5.2 call a mismatch ``invalid_grant`` (oauthlib says
        invalid_request): raise it here.
        """
        row = self.store.get_code(code)
        if row is None:
            return False
        if row.redirect_uri_given and getattr(request, "using_default_redirect_uri", False):
            raise errors.InvalidGrantError(
                description=(
                    "redirect_uri is required: the authorization request included one "
                    "(RFC 6749 section 4.1.3)."
                ),
                request=request,
            )
        if not hmac.compare_digest(row.redirect_uri.encode(), (redirect_uri or "").encode()):
            raise errors.InvalidGrantError(
                description=(
                    "redirect_uri does not match the one used in the authorization request."
                ),
                request=request,
            )
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs) -> None:
        """Nothing left to do: ``claim_code`` already marked the code used, atomically,
        before any token was made (the row stays, to recognise a replay)."""

    # --- the token request: refresh_token ---------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        """Is this refresh token ours, for this client, live? A rotated one is a replay.

        RFC 9700 §4.14.2: when a refresh token that was already rotated comes back, revoke the
        whole family (the attacker's and the client's tokens alike).
        """
        row = self.store.get_token(refresh_token, kind="refresh")
        if row is None or row.revoked:
            raise errors.InvalidGrantError(
                description="Unknown or revoked refresh token.", request=request
            )
        if row.client_id != client.client_id:
            raise errors.InvalidGrantError(
                description="This refresh token was issued to another client.", request=request
            )
        if row.rotated:
            self.store.revoke_family(row.family)
            raise errors.InvalidGrantError(
                description=(
                    "This refresh token was already used and replaced (rotation). Reuse "
                    "suggests theft, so every token of this sign-in was revoked (RFC 9700 section 4.14)."
                ),
                request=request,
            )
        if row.expires_at <= _now():
            raise errors.InvalidGrantError(
                description="This refresh token has expired: sign in again.", request=request
            )
        request.user = row.email
        request.sandbox_refresh = row
        return True

    def get_original_scopes(self, refresh_token, request, *args, **kwargs) -> list[str]:
        row = self.store.get_token(refresh_token, kind="refresh")
        return list(row.scopes) if row else []

    def is_within_original_scope(self, request_scopes, refresh_token, request, *a, **kw):
        """Scope may only narrow on refresh (RFC 6749 §6): nothing beyond the original."""
        return False

    def rotate_refresh_token(self, request) -> bool:
        """GoTo keeps the refresh token; ``--refresh-mode rotate`` issues a new one."""
        return self.settings.rotate

    # --- issuing and checking tokens --------------------------------------------------------

    def save_bearer_token(self, token, request, *args, **kwargs) -> None:
        """Record the access token (and a new refresh token, if any) in its family."""
        client_id = request.client.client_id
        refresh_row = getattr(request, "sandbox_refresh", None)
        if refresh_row is not None:
            family, code = refresh_row.family, None
            refresh_scopes = refresh_row.scopes  # RFC 6749 §6: a new one keeps the old scope
        else:
            family, code = secrets.token_hex(16), request.code
            refresh_scopes = tuple(request.scopes)
        self.store.put_token(
            token["access_token"],
            kind="access",
            client_id=client_id,
            email=request.user,
            scopes=list(request.scopes),
            family=family,
            code=code,
            lifetime=int(token["expires_in"]),
        )
        new_refresh = token.get("refresh_token")
        if new_refresh and new_refresh != request.refresh_token:
            self.store.put_token(
                new_refresh,
                kind="refresh",
                client_id=client_id,
                email=request.user,
                scopes=list(refresh_scopes),
                family=family,
                code=code,
                lifetime=self.settings.refresh_token_lifetime,
            )

    def validate_bearer_token(self, token, scopes, request) -> bool:
        """Protected API: is the token live, and does it carry the scopes the call needs?

        Leaves ``request.sandbox_error`` as ``invalid_token`` or ``insufficient_scope`` (or
        None when no token was sent) so the server can answer RFC 6750 §3 precisely.
        """
        request.sandbox_error = None
        if not token:
            return False
        row = self.store.get_token(token, kind="access")
        if row is None or row.revoked:
            request.sandbox_error = ("invalid_token", "The access token is unknown or revoked.")
            return False
        if row.expires_at <= _now():
            request.sandbox_error = ("invalid_token", "The access token expired.")
            return False
        request.user = row.email
        request.client_id = row.client_id
        request.scopes = list(row.scopes)
        request.sandbox_token = row
        missing = [s for s in (scopes or []) if s not in row.scopes]
        if missing:
            request.sandbox_error = (
                "insufficient_scope",
                f"The access token lacks the scope {' '.join(missing)}.",
            )
            return False
        return True

    # --- revocation (RFC 7009; GoTo documents no revocation endpoint) -----------------------

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """Revoke an access or refresh token of this client; unknown tokens are ignored.

        Revoking a refresh token also revokes the access tokens of its family (RFC 7009 §2.1
        allows it, and it is what a learner expects from "sign out").
        """
        row = self.store.get_token(token)
        if row is None or row.client_id != request.client.client_id:
            return  # RFC 7009 §2.2: 200 all the same
        if row.kind == "refresh":
            self.store.revoke_family(row.family)
        else:
            self.store.revoke_token(token)


# --- strictness layer: custom validators oauthlib runs inside its own checks ----------------


def check_pkce_authorization(request) -> dict:
    """RFC 7636 + RFC 9700 §2.1.1: if PKCE is used, the method is S256 and the challenge sane.

    Runs before oauthlib defaults a missing method to ``plain``.
    """
    challenge, method = request.code_challenge, request.code_challenge_method
    if challenge is None and method is not None:
        raise errors.InvalidRequestError(
            description="code_challenge_method was sent without a code_challenge.",
            request=request,
        )
    if challenge is not None:
        if method != "S256":
            raise errors.InvalidRequestError(
                description=(
                    "transform algorithm not supported: this server accepts only "
                    "code_challenge_method=S256 (RFC 7636 section 4.4.1; 'plain' is the default when "
                    "the method is missing)."
                ),
                request=request,
            )
        if not CHALLENGE_RE.match(challenge):
            raise errors.InvalidRequestError(
                description="code_challenge must be 43 base64url characters (RFC 7636 section 4.2).",
                request=request,
            )
    return {}


def check_verifier_syntax(request) -> None:
    """RFC 7636 §4.1: a code_verifier is 43 to 128 unreserved characters."""
    verifier = request.code_verifier
    if verifier is not None and not VERIFIER_RE.match(verifier):
        raise errors.InvalidRequestError(
            description=(
                "code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ "
                "(RFC 7636 section 4.1)."
            ),
            request=request,
        )


def make_code_claimer(store: Store):
    """Post-token checks of the authorization_code grant, then the atomic single-use claim."""

    def claim(request) -> None:
        row = getattr(request, "sandbox_code", None)
        # RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a PKCE downgrade.
        if request.code_verifier is not None and (row is None or row.challenge is None):
            raise errors.InvalidGrantError(
                description=(
                    "code_verifier sent, but the authorization request had no code_challenge "
                    "(a PKCE downgrade, RFC 9700 section 4.8.2)."
                ),
                request=request,
            )
        # RFC 6749 §4.1.2: single use. Of two concurrent exchanges, exactly one wins.
        if not store.claim_code(request.code):
            store.mark_code_reused(request.code)
            raise errors.InvalidGrantError(
                description=(
                    "This authorization code was already used. Codes are single-use; the "
                    "tokens issued from it have been revoked (RFC 6749 section 4.1.2)."
                ),
                request=request,
            )

    return claim


def make_refresh_claimer(store: Store, settings: Settings):
    """In rotate mode, retire the presented refresh token atomically (RFC 9700 §4.14.2)."""

    def claim(request) -> None:
        if not settings.rotate:
            return
        if not store.claim_refresh_token(request.refresh_token):
            row = getattr(request, "sandbox_refresh", None)
            if row is not None:
                store.revoke_family(row.family)
            raise errors.InvalidGrantError(
                description=(
                    "This refresh token was already used and replaced (rotation); every token "
                    "of this sign-in was revoked (RFC 9700 section 4.14)."
                ),
                request=request,
            )

    return claim


def known_scope_lines(scopes) -> list[tuple[str, str]]:
    """(scope, plain-language description) for the consent page."""
    return [(s, SCOPES.get(s, "Access described by the scope " + s)) for s in scopes]


def client_label(client: Client) -> str:
    return client.name or client.client_id


def _now() -> float:
    import time

    return time.time()
