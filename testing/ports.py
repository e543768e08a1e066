"""Free loopback ports for tests and benchmarks.

A port from ``bind(0)`` lies in the ephemeral range, where the system also picks the local ports
of outgoing connections (a browser's, JupyterLab's, a kernel's, thousands during a class
benchmark). A test that binds its port a moment later (a kernel starting a listener, say) can
then find it taken. So these ports come from below that range.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

# Our own generator: hypothesis seeds the global one inside its tests, which would hand out
# the same few ports again and again.
_random = random.SystemRandom()


def _ephemeral_low() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return 32768


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now, and that no outgoing connection takes."""
    low = _ephemeral_low()
    for _ in range(100):
        port = _random.randrange(20000, max(low, 20001))
        if _bindable(host, port):
            return port
    raise RuntimeError(f"no free port found on {host} below {low}")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (for a class of learners, each with its own listener)."""
    ports: set[int] = set()
    for _ in range(count * 20):
        if len(ports) == count:
            break
        ports.add(free_port(host))
    return sorted(ports)


def can_bind(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a new listener could take ``port`` now (SO_REUSEADDR, as the listener sets)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
