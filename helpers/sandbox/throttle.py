"""Slowing down password guessing on the sandbox's login page: a short pause, not a lock-out.

    >>> throttle = Throttle(limit=3, pause=15.0)
    >>> keys = ("account:learner@example.com", "session:3f2a")
    >>> for _ in range(3):
    ...     throttle.failed(keys)
    >>> round(throttle.wait_left(keys))
    15

After ``limit`` failures in a row for one account or one browser session, every sign-in for it
waits ``pause`` seconds, the right password included (so guessing gains nothing); then it gets
``limit`` more tries. A success clears the account and the session. OWASP's Authentication
Cheat Sheet asks for throttling that does not let an attacker lock a real user out for long:
hence a pause of seconds. It lives in memory: a restart clears it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class Throttle:
    """Failure counts and pauses per key (an account, a session), at most ``max_keys`` kept."""

    def __init__(self, limit: int = 5, pause: float = 15.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.pause = pause
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # key -> (failures since the last pause, monotonic time the pause ends)
        self._keys: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait_left(self, keys) -> float:
        """Seconds before any of ``keys`` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            ends = [self._keys.get(key, (0, 0.0))[1] for key in keys]
        return max([end - now for end in ends] + [0.0])

    def failed(self, keys) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                count, until = self._keys.pop(key, (0, 0.0))
                count += 1
                if count >= self.limit:
                    count, until = 0, now + self.pause
                self._keys[key] = (count, until)
            while len(self._keys) > self.max_keys:  # a flood of made-up emails stays bounded
                self._keys.popitem(last=False)

    def succeeded(self, keys) -> None:
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)
