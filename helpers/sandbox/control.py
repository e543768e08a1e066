"""Stop a running sandbox or flip its fault switches, over HTTP, as its owner.

    >>> from helpers.sandbox import faults
    >>> faults(info.url).fail_next_token_request()   # the next token request answers 503

Each call carries the sandbox's control token (``X-Sandbox-Control``), read from its state
file: only the user who started the sandbox can read that file, so only they can do this.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from ..errors import SandboxError
from .defaults import CONTROL_HEADER
from .process import _control_token, _open


class Faults:
    """Stop a running sandbox or flip its fault switches (its ``/sandbox/...`` endpoints).

    They need the sandbox's control token: given, or read from the sandbox's state file.
    """

    def __init__(self, url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = token

    def _post(self, name: str, data: dict) -> dict:
        if self._token is None:
            self._token = _control_token(self.url) or ""
        request = urllib.request.Request(  # noqa: S310 - http(s) URL of our sandbox
            f"{self.url}/sandbox/{name}",
            data=json.dumps(data).encode("utf-8"),
            headers={"Content-Type": "application/json", CONTROL_HEADER: self._token},
            method="POST",
        )
        try:
            with _open(request, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode("utf-8") or "{}")
        except urllib.error.HTTPError as exc:
            try:
                why = json.loads(exc.read().decode("utf-8"))["error_description"]
            except (ValueError, KeyError, TypeError, OSError):
                why = f"HTTP {exc.code}"
            hint = (
                " No control token was found: this user cannot read the sandbox's state file."
                if exc.code == 403 and not self._token
                else ""
            )
            raise SandboxError(
                f"The sandbox at {self.url} refused /sandbox/{name}: {why}{hint}"
            ) from exc
        except OSError as exc:
            raise SandboxError(f"Could not reach the sandbox at {self.url}: {exc}.") from exc

    def shutdown(self) -> None:
        """Stop the sandbox; its log names this process as the one that asked."""
        self._post("shutdown", {"by": f"pid {os.getpid()}"})

    def fail_next_token_request(self, count: int = 1) -> None:
        """The next token request(s) answer 503 ``temporarily_unavailable``."""
        self._post("fail-next-token-request", {"count": count})

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now; returns how many."""
        return int(self._post("expire-access-tokens", {}).get("expired", 0))

    def set_token_lifetimes(self, *, access_token=None, refresh_token=None, code=None) -> dict:
        """Lifetimes in seconds for what is issued from now on (e.g. ``access_token=5``)."""
        data = {"access_token": access_token, "refresh_token": refresh_token, "code": code}
        return self._post("token-lifetimes", {k: v for k, v in data.items() if v is not None})[
            "lifetimes"
        ]

    def reset(self) -> dict:
        """Back to the starting lifetimes; no pending failure."""
        return self._post("reset", {})["lifetimes"]


def faults(url: str) -> Faults:
    """The fault switches of the sandbox at ``url``: ``faults(info.url).expire_access_tokens()``."""
    return Faults(url)
