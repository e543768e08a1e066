"""The sandbox's fixed names and defaults (stdlib only: cheap to import)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

#: What /health calls itself, so ``ensure_running`` knows its own sandbox from another program.
SERVICE = "goto-oauth-sandbox"
#: The realm of the sandbox's WWW-Authenticate challenges.
REALM = "GoTo OAuth sandbox"
#: In the data folder: pid, URL and demo credentials of the running sandbox; its log.
STATE_FILE = "sandbox.json"
LOG_FILE = "sandbox.log"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
#: Background sandboxes stop after this long without a request.
DEFAULT_IDLE_EXIT = 2 * 3600

#: Lifetimes in seconds (GoTo: access tokens 60 minutes; refresh tokens 30 days, UNCONFIRMED).
ACCESS_TOKEN_LIFETIME = 3600
REFRESH_TOKEN_LIFETIME = 30 * 24 * 3600
CODE_LIFETIME = 600
#: "goto": refresh keeps the refresh token; "rotate": a new one each time (RFC 9700 §4.14).
REFRESH_MODES = ("goto", "rotate")
REFRESH_MODE = "goto"

DEMO_CLIENT_ID = "8a3f2c71-5d4e-4b6a-9e0f-1c2d3e4f5a6b"
DEMO_CLIENT_NAME = "tutorial-oauth-client"
#: Registered like the tutorial's client; any port works on 127.0.0.1 (RFC 8252 §7.3).
DEMO_REDIRECT_URI = "http://127.0.0.1:5000/login/oauth2/code/goto"
#: In a registered redirect URI's path: any port number there (the sandbox's own rule, for
#: listeners behind jupyter-server-proxy's /proxy/<port>/; see validator.redirect_uri_matches).
ANY_PORT = "{port}"
DEMO_SCOPES = ("messaging.v1.send", "messaging.v1.read", "identity:scim.me")
DEMO_USER_EMAIL = "learner@example.com"
DEMO_USER_PASSWORD = "tutorial"

SECRET_FILE = "client_secret.txt"

#: The header that carries the control token to ``/sandbox/...`` (shutdown, fault switches).
CONTROL_HEADER = "X-Sandbox-Control"


def debug_key(control_token: str) -> str:
    """The key that opens ``/debug/requests``: derived from the control token, so whoever can
    read the state file can read the page, and a leaked page cookie flips no switch."""
    return hmac.new(control_token.encode(), b"debug-requests", hashlib.sha256).hexdigest()[:32]


def private_dir(path: str | os.PathLike) -> Path:
    """Make ``path`` (and its parents) if needed; the folder itself is the owner's only (0700).

    It holds the client secret, the database (pending states, messages) and the control token:
    on a shared machine other users must not read any of it.
    """
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name != "nt":
        os.chmod(path, 0o700)
    return path


def private_file(path: str | os.PathLike) -> Path:
    """Create ``path`` empty if missing, and make it the owner's only (0600)."""
    path = Path(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    if os.name != "nt":
        os.chmod(path, 0o600)
    return path


def generate_client_secret() -> str:
    """A random secret shaped like GoTo's: base64 with '+' (and '=' padding) in it.

    Those characters are what RFC 6749 §2.3.1's form-encoding before HTTP Basic is about.
    """
    secret = base64.b64encode(secrets.token_bytes(23)).decode("ascii")  # 32 chars, one '='
    if "+" not in secret:
        at = secrets.randbelow(len(secret) - 2)
        secret = secret[:at] + "+" + secret[at + 1 :]
    return secret


def demo_client_secret(data_dir: str | os.PathLike) -> str:
    """The demo client's secret: made once, when the data folder is created, then kept."""
    path = Path(data_dir) / SECRET_FILE
    try:
        secret = path.read_text("utf-8").strip()
        if secret:
            return secret
    except OSError:
        pass
    private_dir(data_dir)
    secret = generate_client_secret()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text("utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return secret


def default_data_dir() -> Path:
    """``<repo>/.sandbox`` in a source checkout, else a per-user cache folder."""
    import helpers

    root = Path(helpers.__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():
        return root / ".sandbox"
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "goto-oauth-sandbox"
