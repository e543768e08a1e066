"""Is this host this machine? One answer for the helpers and the sandbox.

    >>> from helpers.loopback import is_loopback
    >>> is_loopback("127.0.0.1"), is_loopback("[::1]"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("localhost", name=False), is_loopback("auth.example.com")
    (False, False)

Standard library only: the sandbox uses it too. ``free_port()`` gives a loopback port for a
listener of one's own; ``open_direct`` is ``urllib``'s opener for a server on this machine.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import socket
import urllib.request
from pathlib import Path

#: ``urlopen`` that never goes through an HTTP proxy setting: ``HTTP_PROXY`` would send requests
#: for a server on this machine (the sandbox, the Jupyter server, the class's service) to the
#: proxy, where they fail or reach another machine.
open_direct = urllib.request.build_opener(urllib.request.ProxyHandler({})).open

# Our own generator: hypothesis seeds the global one inside its tests, which would hand out
# the same few ports again and again.
_random = random.SystemRandom()


def is_loopback(host: str | None, *, name: bool = True) -> bool:
    """True for a loopback IP address (127.0.0.0/8, ::1; brackets and a ``%zone`` allowed) and,
    unless ``name=False``, for the name ``localhost``.

    ``name=False`` where only an address will do: RFC 8252 §7.3 gives loopback redirect URIs
    their port freedom for IP literals, and §8.3 says why the name is not one (a hosts file or
    the resolver may point it elsewhere).
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return name
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now, and that no outgoing connection takes.

    A port from ``bind(0)`` lies in the ephemeral range, where the system also picks the local
    ports of outgoing connections (a browser's, JupyterLab's, a kernel's): a listener that binds
    its port a moment later could find it taken. So these ports come from below that range.
    Raises ``OSError`` when 100 tries found none.
    """
    low = _ephemeral_low()
    for _ in range(100):
        port = _random.randrange(20000, max(low, 20001))
        if _bindable(host, port):
            return port
    raise OSError(f"no free port found on {host} below {low}")


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
