"""Child-process bodies for test_token_file.py, run from a multiprocessing forkserver (so each
child starts in milliseconds with helpers.tokens already imported), then SIGKILLed."""

from __future__ import annotations

import os
import time

from helpers.config import OAuthConfig
from helpers.tokens import Token, TokenStore, refresh


def token(child: int, n: int) -> Token:
    """A token whose every field carries the same tag, so a mixed-up file would show."""
    tag = f"{child}-{n}"
    return Token(
        access_token=f"access-{tag}",
        refresh_token=f"refresh-{tag}",
        principal=f"p-{tag}",
        expires_at=float(n),
        scopes=(f"s-{tag}",),
    )


def save_loop(path: str, child: int) -> None:
    store = TokenStore(path)
    n = 0
    while True:
        n += 1
        store.save(token(child, n))


def refresh_loop(path: str, progress: str, config: OAuthConfig) -> None:
    """Load, refresh (rotating), save, forever; note each step in the progress file."""
    store = TokenStore(path)
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    n = 0
    while True:
        n += 1
        current = store.load()
        os.write(fd, f"R {n}\n".encode())  # from here the server may rotate...
        store.save(refresh(config, current, timeout=5))
        os.write(fd, f"S {n}\n".encode())  # ...and from here the new token is on disk
        time.sleep(0.02)  # the learner's code uses the token for a while
