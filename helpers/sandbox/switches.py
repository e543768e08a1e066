"""The sandbox's fault switches, defined once: for teaching (an expired token on demand) and tests.

    >>> running = serve_in_thread(tmp_path)            # in this process
    >>> running.switches.fail_next_token_request()      # the next token request answers 503
    >>> faults(running.url).expire_access_tokens()      # the same switches over HTTP
    1

``Switches`` holds them; ``SandboxApp.control`` answers ``POST /sandbox/<name>`` for each entry of
``OVER_HTTP`` by calling the method it names with the JSON body as keyword arguments, and
``helpers.sandbox.faults(url)`` offers the same methods, made from the same table.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from .transport import BadInput

if TYPE_CHECKING:  # the validator imports oauthlib; faults(url) must stay cheap to import
    from .validator import Settings

#: POST /sandbox/<name> -> the ``Switches`` method it calls (its JSON body: the arguments).
OVER_HTTP = {
    "fail-next-token-request": "fail_next_token_request",
    "expire-access-tokens": "expire_access_tokens",
    "token-lifetimes": "set_token_lifetimes",
    "reset": "reset",
}


class Switches:
    """Fault switches over the sandbox's settings and its store's tokens."""

    def __init__(self, settings: Settings, expire_access_tokens: Callable[[], int]) -> None:
        self.settings = settings
        self.defaults = copy.copy(settings)
        self._expire = expire_access_tokens
        self._fail_next = 0
        self._lock = threading.Lock()

    def fail_next_token_request(self, count: int = 1) -> None:
        """The next ``count`` token requests answer 503 ``temporarily_unavailable``."""
        if not isinstance(count, int) or count < 0:
            raise BadInput("count is a whole number, 0 or more")
        with self._lock:
            self._fail_next = count

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now; returns how many."""
        return self._expire()

    def set_token_lifetimes(
        self,
        *,
        access_token: int | None = None,
        refresh_token: int | None = None,
        code: int | None = None,
    ) -> dict:
        """Lifetimes in seconds for what is issued from now on (e.g. ``access_token=5``)."""
        for value in (access_token, refresh_token, code):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise BadInput("lifetimes are whole numbers of seconds, at least 1")
        if access_token is not None:
            self.settings.access_token_lifetime = access_token
        if refresh_token is not None:
            self.settings.refresh_token_lifetime = refresh_token
        if code is not None:
            self.settings.code_lifetime = code
        return self.lifetimes()

    def reset(self) -> dict:
        """Back to the starting lifetimes; no pending failure."""
        with self._lock:
            self._fail_next = 0
        self.settings.access_token_lifetime = self.defaults.access_token_lifetime
        self.settings.refresh_token_lifetime = self.defaults.refresh_token_lifetime
        self.settings.code_lifetime = self.defaults.code_lifetime
        return self.lifetimes()

    def lifetimes(self) -> dict:
        return {
            "access_token": self.settings.access_token_lifetime,
            "refresh_token": self.settings.refresh_token_lifetime,
            "code": self.settings.code_lifetime,
        }

    def take_failure(self) -> bool:
        """Whether this token request is one the switch said to fail (and count it)."""
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return False

    def call(self, http_name: str, arguments: dict):
        """Run the switch ``POST /sandbox/<http_name>`` names, with the body's arguments."""
        method = getattr(self, OVER_HTTP[http_name])
        try:
            return method(**arguments)
        except TypeError as exc:  # an argument this switch does not take
            raise BadInput(f"{http_name} does not take these arguments: {exc}") from None
