"""Shared pieces of the reliability and security battery (see docs/reliability.md).

Everything here talks to loopback only; every loop in the battery is bounded in count and time.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

# The sandbox suite's stand-in callback listener (answers 200 to any GET), reused as is.
from tests.sandbox.conftest import listener as standin_listener  # noqa: F401

PATH = "/login/oauth2/code/goto"


def port_of(uri: str) -> int:
    return int(uri.split(":")[2].split("/")[0])


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def raw_exchange(port: int, data: bytes, host: str = "127.0.0.1", timeout: float = 8.0) -> bytes:
    """Send raw bytes, half-close, read the whole answer (or what came before a reset)."""
    chunks = []
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before it has read everything
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
    return b"".join(chunks)


@pytest.fixture
def baseline():
    """Threads and file descriptors of this process now, to compare with after the test."""
    return threading.active_count(), fd_count()
