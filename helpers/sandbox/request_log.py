"""The link to the sandbox's request log (``/debug/requests``), where the browser can open it.

    >>> from helpers import connect, sandbox
    >>> cfg = connect.load()
    >>> sandbox.show_request_log(cfg)    # the owner's link, a line saying whose it is, or nothing

The log shows who signs in, from which client, to which redirect URI, so only the sandbox's
owner may read it: the link carries a key derived from the control token in the sandbox's state
file, which only the user who started it can read; the page swaps the key for a cookie at once.

    on your own machine       http://127.0.0.1:8765/debug/requests?key=…
    through Jupyter's proxy   <origin><base>proxy/absolute/8765/debug/requests?key=…, where the
                              sign-in pages are (helpers/server_proxy.py, helpers/sandbox/front.py)
    on a class hub            no link: the class's sandbox serves every learner, so its log is
                              the teacher's, on the hub's machine (helpers/sandbox/hub.py)
    with GoTo                 nothing: GoTo has no such page
"""

from __future__ import annotations

from .defaults import debug_key
from .process import _control_token

LABEL = "The sandbox's request log"
CLASS_LINE = (
    "The class sandbox's request log shows every learner's sign-ins, so it is your teacher's "
    "(on the hub's machine: python -m helpers.sandbox debug-link --data-dir "
    "classroom/.state/sandbox); your own requests are in this notebook's traces."
)


def debug_url(url: str, front: str = "") -> str:
    """The link to the request log of the sandbox at ``url`` (as this kernel reaches it), under
    ``front`` when the browser reaches the sandbox's pages there: the owner's (with its key)
    when this user can read the sandbox's state file, else the bare page, which says who may
    read it."""
    url = url.rstrip("/")
    page = (front or url).rstrip("/") + "/debug/requests"
    token = _control_token(url)
    return f"{page}?key={debug_key(token)}" if token else page


def request_log_link(cfg) -> str | None:
    """Where this notebook's browser opens the sandbox's log, or None (GoTo, a class hub)."""
    if not cfg.is_sandbox:
        return None
    if cfg.listen_uri:  # through Jupyter's proxy: the learner's own sandbox, where they sign in
        return debug_url(cfg.service_url, cfg.authorize_base_url)
    if cfg.authorize_base_url:  # a class hub: the whole class's log
        return None
    return debug_url(cfg.service_url)


def show_request_log(cfg) -> None:
    """Show the link to the request log (every request the sandbox saw, secrets cut short), or
    on a class hub one line saying whose it is; nothing with GoTo."""
    from ..browser import show_link

    link = request_log_link(cfg)
    if link:
        show_link(link, LABEL)
    elif cfg.is_sandbox:
        print(CLASS_LINE)
