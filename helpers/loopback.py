"""Is this host this machine? One answer for the helpers and the sandbox.

    >>> from helpers.loopback import is_loopback
    >>> is_loopback("127.0.0.1"), is_loopback("[::1]"), is_loopback("localhost")
    (True, True, True)
    >>> is_loopback("localhost", name=False), is_loopback("auth.example.com")
    (False, False)

Standard library only: the sandbox uses it too.
"""

from __future__ import annotations

import ipaddress


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
