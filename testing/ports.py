"""Free loopback ports for tests and benchmarks: ``helpers.loopback.free_port`` (below the
ephemeral range, so no outgoing connection takes one before its listener binds), and helpers
built on it.
"""

from __future__ import annotations

import socket

from helpers.loopback import free_port

__all__ = ["can_bind", "free_port", "free_ports"]


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
