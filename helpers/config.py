"""Stage 1: the OAuth client's values, read from ``.env`` and checked.

    >>> from helpers import config
    >>> values, source = config.read()           # .env, then the real environment on top
    >>> cfg = config.validate(values, source)    # an OAuthConfig, or one ConfigError
    >>> cfg.authorize_url
    'https://authentication.logmeininc.com/oauth/authorize'

The notebooks call ``connect.load()``, which does both and, when ``OAUTH_SERVICE_URL`` is
unset, points the config at the local sandbox instead (``helpers/connect.py``).
Real environment variables win over ``.env``. The client secret is masked in every
representation of the config, so displaying it in a notebook is safe.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv

from .display import html_table
from .errors import ConfigError
from .loopback import is_loopback
from .redact import mask

#: The four variables of GoTo's tutorial, and two optional ones.
VARIABLES = ("OAUTH_SERVICE_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_REDIRECT_URI")

#: Settings of this machine's side (the sandbox, the token file): each works from the
#: environment or from .env, like the client's values. See .env.example.
LOCAL_SETTINGS = (
    "OAUTH_SANDBOX_PORT",
    "OAUTH_SANDBOX_DIR",
    "OAUTH_SANDBOX_IDLE_EXIT",
    "OAUTH_TOKEN_FILE",
)

#: The scope the tutorial's "Send a message" call needs.
DEFAULT_SCOPES = ("messaging.v1.send",)
#: The redirect URI the tutorial registers on its OAuth client.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:5000/login/oauth2/code/goto"
DEFAULT_API_URL = "https://api.goto.com"
GOTO_SERVICE_URL = "https://authentication.logmeininc.com"

# Values copied unchanged from .env.example (or the tutorial's sample) are not real credentials.
PLACEHOLDERS = {
    "your-client-id",
    "your-client-secret",
    "36c12e03-a590-4470-8576-4fefbac7e1f7",
    "CNNe6w6MPcI9Im0Qk1scbcXC",
}


@dataclass(frozen=True)
class OAuthConfig:
    """An OAuth client's values: where the authorization server is, who we are, where we listen."""

    service_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    api_url: str = DEFAULT_API_URL
    is_sandbox: bool = False
    #: On a class hub, where the BROWSER reaches the sign-in pages (front channel), when that
    #: differs from where the kernel reaches the token endpoint (``service_url``, back channel).
    authorize_base_url: str = ""

    @property
    def authorize_url(self) -> str:
        return (self.authorize_base_url or self.service_url) + "/oauth/authorize"

    @property
    def token_url(self) -> str:
        return self.service_url + "/oauth/token"

    @property
    def revoke_url(self) -> str:
        # simple-oauth2's default path; GoTo documents no revocation endpoint (UNCONFIRMED).
        return self.service_url + "/oauth/revoke"

    def __repr__(self) -> str:
        where = "sandbox" if self.is_sandbox else "GoTo"
        return (
            f"OAuthConfig({where}: service_url={self.service_url!r}, client_id={self.client_id!r}, "
            f"client_secret={mask(self.client_secret)!r}, redirect_uri={self.redirect_uri!r}, "
            f"scopes={' '.join(self.scopes)!r})"
        )

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = [
            (
                "Authorization server",
                self.service_url + (" (local sandbox)" if self.is_sandbox else ""),
            ),
            ("Client ID", self.client_id),
            ("Client secret", mask(self.client_secret) + " (masked)"),
            ("Redirect URI", self.redirect_uri),
            ("Scopes", " ".join(self.scopes)),
            ("API", self.api_url),
        ]
        if self.authorize_base_url:  # on a class hub (helpers/hub.py)
            from . import hub

            rows.append(("JupyterHub", hub.where(self)))
        return html_table(rows)


def read(env_file: str | os.PathLike | None = None) -> tuple[dict[str, str], str]:
    """Variables from the .env file, overridden by the real environment; and where they came from.

    ``env_file`` defaults to the nearest ``.env`` in the working folder or a parent.
    """
    if env_file is None:
        found = find_dotenv(usecwd=True)  # searches the working folder and its parents
        env_file = found or None
    elif not Path(env_file).is_file():
        # A file named on purpose that is not there is a mistake, not a request for the sandbox.
        raise ConfigError({"env_file": f"{env_file} does not exist"}, str(env_file))
    values: dict[str, str] = {}
    source = ".env"
    if env_file is not None and Path(env_file).is_file():
        source = str(env_file)
        values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    for name in (*VARIABLES, "OAUTH_SCOPES", "GOTO_API_URL", "OAUTH_AUTHORIZE_BASE_URL"):
        if os.environ.get(name) is not None:
            values[name] = os.environ[name]
    return {k: v.strip() for k, v in values.items()}, source


def validate(values: dict[str, str], source: str = ".env") -> OAuthConfig:
    """Turn raw variables into an ``OAuthConfig``, or raise one ``ConfigError`` listing every problem."""
    problems: dict[str, str] = {}
    for name in VARIABLES:
        value = values.get(name, "")
        if not value:
            problems[name] = "is missing"
        elif value in PLACEHOLDERS or value.startswith("your-"):
            problems[name] = "still holds the placeholder from .env.example: put your own value"
    if "OAUTH_SERVICE_URL" not in problems:
        why = _check_service_url(values["OAUTH_SERVICE_URL"])
        if why:
            problems["OAUTH_SERVICE_URL"] = why
    front = values.get("OAUTH_AUTHORIZE_BASE_URL", "")
    if "OAUTH_REDIRECT_URI" not in problems:
        check = check_redirect_uri
        if front:  # a class hub's one callback service (helpers/hub.py)
            from .hub import check_class_redirect_uri as check
        why = check(values["OAUTH_REDIRECT_URI"])
        if why:
            problems["OAUTH_REDIRECT_URI"] = why
    scopes = tuple(values.get("OAUTH_SCOPES", "").split()) or DEFAULT_SCOPES
    api_url = values.get("GOTO_API_URL") or DEFAULT_API_URL
    why = _check_service_url(api_url)
    if why:  # a bearer token sent over plain http to another machine can be stolen on the way
        problems["GOTO_API_URL"] = why.replace("a sandbox", "an API")
    if problems:
        raise ConfigError(problems, source)
    redirect = values["OAUTH_REDIRECT_URI"]
    if urlsplit(redirect).hostname == "localhost":
        warnings.warn(
            "OAUTH_REDIRECT_URI uses 'localhost'; RFC 8252 §8.3 recommends the literal 127.0.0.1, "
            "which cannot be redirected elsewhere by a hosts file or resolve to IPv6 instead.",
            stacklevel=3,
        )
    return OAuthConfig(
        service_url=values["OAUTH_SERVICE_URL"].rstrip("/"),
        client_id=values["OAUTH_CLIENT_ID"],
        client_secret=values["OAUTH_CLIENT_SECRET"],
        redirect_uri=redirect,
        scopes=scopes,
        api_url=api_url.rstrip("/"),
        is_sandbox=values.get("_SANDBOX") == "1",
        authorize_base_url=front.rstrip("/"),
    )


def check_redirect_uri(uri: str) -> str | None:
    """What is wrong with a redirect URI for a local listener, or None if it is fine."""
    parts = urlsplit(uri)
    if parts.scheme != "http":
        return f"must start with http:// (a listener on this machine), not {parts.scheme or '?'}://"
    host = parts.hostname
    if host == "localhost":
        return None  # allowed, with a warning from validate()
    if host not in ("127.0.0.1", "::1"):
        return f"must use the loopback address 127.0.0.1 or [::1], not {host!r} (RFC 8252 §7.3)"
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number"
    if not port:
        return "needs an explicit port, e.g. http://127.0.0.1:5000/login/oauth2/code/goto"
    if not parts.path or parts.path == "/":
        return "needs a path, e.g. /login/oauth2/code/goto"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def _check_service_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an address like {GOTO_SERVICE_URL}"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "must use https (only a sandbox on this machine may use plain http)"
    if parts.path not in ("", "/") or parts.query:
        return "must be the service's origin only, without a path (the helpers add /oauth/...)"
    return None


# --- settings of this machine's side (the sandbox, the token file), from .env too ------------


def env_file_path() -> Path | None:
    """The .env in use: the nearest one in the working folder or a parent, else None."""
    found = find_dotenv(usecwd=True)
    return Path(found) if found else None


def setting(name: str) -> str | None:
    """One of ``LOCAL_SETTINGS``: the environment's value, else the .env's, else None.

    >>> setting("OAUTH_SANDBOX_PORT")    # OAUTH_SANDBOX_PORT=8766 in .env
    '8766'
    """
    if os.environ.get(name) is not None:
        return os.environ[name].strip()
    path = env_file_path()
    value = dotenv_values(path).get(name) if path else None
    return value.strip() if value is not None else None


def setting_path(name: str) -> Path | None:
    """A file or folder setting; a relative path in .env is relative to the .env's folder."""
    value = setting(name)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and os.environ.get(name) is None:
        path = env_file_path().parent / path
    return path
