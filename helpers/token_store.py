"""The token a sign-in ends with, and the file it is saved in.

    >>> token                       # a Token: credentials masked in every representation
    Token(principal='learner@example.com', scopes='messaging.v1.send', expires in 3599 s, ...)
    >>> TokenStore().save(token)    # .tokens.json, readable by you only, replaced atomically
    >>> TokenStore().load_for(cfg)  # the saved token, if this authorization server issued it

``helpers.tokens`` makes tokens (exchange, refresh) and offers both names too.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import OAuthConfig, setting_path
from .display import html_table
from .errors import NoSavedToken
from .redact import mask


@dataclass(frozen=True)
class Token:
    """An access token and what came with it. Secrets are masked in every representation."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    requested_scopes: tuple[str, ...] = ()
    principal: str | None = None
    issuer: str | None = None
    obtained_at: float = field(default_factory=time.time)

    @property
    def expires_in(self) -> int | None:
        """Whole seconds until the access token expires (negative once it has)."""
        return None if self.expires_at is None else int(self.expires_at - time.time())

    def is_expired(self, leeway: float = 0.0) -> bool:
        """True when the token expires within ``leeway`` seconds (or already has)."""
        return self.expires_at is not None and time.time() + leeway >= self.expires_at

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        """Scopes we asked for but were not granted (a narrower grant is allowed, RFC 6749 §3.3)."""
        return tuple(s for s in self.requested_scopes if s not in self.scopes)

    @property
    def authorization_header(self) -> dict[str, str]:
        """The header that presents this token to an API (RFC 6750 §2.1)."""
        return {"Authorization": f"Bearer {self.access_token}"}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Token:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for name in ("scopes", "requested_scopes"):
            known[name] = tuple(known.get(name) or ())
        return cls(**known)

    def _lifetime(self) -> str:
        left = self.expires_in
        if left is None:
            return "no expiry given"
        return f"expires in {left} s" if left > 0 else f"expired {-left} s ago"

    def __repr__(self) -> str:
        refresh = mask(self.refresh_token) if self.refresh_token else None
        return (
            f"Token(principal={self.principal!r}, scopes={' '.join(self.scopes)!r}, "
            f"{self._lifetime()}, access_token={mask(self.access_token)!r}, "
            f"refresh_token={refresh!r})"
        )

    __str__ = __repr__

    def rows(self) -> list[tuple[str, str]]:
        """What a learner may see of the token, as name/value pairs (credentials masked)."""
        rows = [
            ("Principal", self.principal or "(not given)"),
            ("Token type", self.token_type),
            ("Scopes granted", " ".join(self.scopes) or "(none)"),
            ("Access token", mask(self.access_token) + " (masked)"),
            (
                "Refresh token",
                mask(self.refresh_token) + " (masked)" if self.refresh_token else "none",
            ),
            ("Issued by", self.issuer or "(unknown)"),
        ]
        if self.missing_scopes:
            rows.append(("Asked for, not granted", " ".join(self.missing_scopes)))
        return rows

    def _repr_html_(self) -> str:
        return html_table([*self.rows(), ("Lifetime", self._lifetime())])


def default_token_path() -> Path:
    """Where tokens are saved: ``OAUTH_TOKEN_FILE`` if set (environment or .env), else
    ``.tokens.json`` at the root of this checkout (git-ignored), else in the working folder."""
    chosen = setting_path("OAUTH_TOKEN_FILE")
    if chosen is not None:
        return chosen
    root = Path(__file__).resolve().parents[1]
    return (root if (root / "pyproject.toml").is_file() else Path.cwd()) / ".tokens.json"


class TokenStore:
    """Saves one token to a file only you can read, replacing it atomically.

    The file is written to a temporary file in the same folder (mode 0600), flushed to disk and
    renamed over the old one, so a crash leaves either the old token or the new one, never half.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_token_path()

    def save(self, token: Token) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=self.path.parent)
        try:
            # mkstemp already creates the file 0600 on POSIX; say it explicitly where we can
            # (os.fchmod exists on Windows only from Python 3.13, where it sets read-only bits).
            if os.name == "posix":
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(token.to_dict(), f, indent=2)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if os.name == "posix":  # make the rename itself durable (Windows cannot open folders)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._remove_leftovers()
        return self.path

    def _remove_leftovers(self, age: float = 60.0) -> None:
        # A process killed mid-save leaves its temporary file (a token) behind; a save in
        # progress elsewhere lasts milliseconds, so one older than a minute is a leftover.
        cutoff = time.time() - age
        for leftover in self.path.parent.glob(".tokens-*.tmp"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
            except OSError:
                pass

    def load(self) -> Token:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return Token.from_dict(data)
        except FileNotFoundError:
            raise NoSavedToken(str(self.path)) from None
        except (ValueError, TypeError, KeyError) as e:
            raise NoSavedToken(str(self.path), f"the file is not a saved token ({e})") from None

    def load_for(self, config: OAuthConfig) -> Token:
        """The saved token, if it came from this configuration's authorization server."""
        token = self.load()
        if token.issuer and token.issuer != config.service_url:
            raise NoSavedToken(
                str(self.path),
                f"the saved token was issued by {token.issuer}, not {config.service_url}",
            )
        return token

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"
