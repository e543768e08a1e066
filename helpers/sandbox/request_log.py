"""The link to the sandbox's request log (``/debug/requests``), where the browser can open it;
and, for notebook 1, where the sandbox runs.

    >>> from helpers import connect, sandbox
    >>> cfg = connect.load()
    >>> sandbox.show_request_log(cfg)    # the owner's link, a line saying whose it is, or nothing
    >>> sandbox.show_where(cfg)          # its details (masked), its home page, its request log

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
from .process import _control_token, ensure_running

LABEL = "The sandbox's request log"
CLASS_LINE = (
    "The class sandbox's request log shows every learner's sign-ins, so only your teacher opens "
    "it; your own requests are in this notebook's traces."
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
    if _on_class_hub(cfg):  # the whole class's log
        return None
    # Through Jupyter's proxy (the learner's own sandbox, where they sign in), or on 127.0.0.1.
    return debug_url(cfg.service_url, cfg.authorize_base_url)


def show_request_log(cfg) -> None:
    """Show the link to the request log (every request the sandbox saw, secrets cut short), or
    on a class hub one line saying whose it is; nothing with GoTo."""
    from ..browser import show_link

    link = request_log_link(cfg)
    if link:
        show_link(link, LABEL)
    elif cfg.is_sandbox:
        print(CLASS_LINE)


def show_where(cfg) -> None:
    """Where the sandbox of ``cfg`` runs: its details (secret and password masked) and its home
    page, then its request log. On a class hub, the class's sandbox, which the teacher runs:
    nothing is started here."""
    if _on_class_hub(cfg):
        print(
            f"The class's sandbox, run by your teacher on the hub: your browser opens its pages "
            f"at {cfg.authorize_base_url}/, this kernel reaches it at {cfg.service_url}."
        )
    else:
        print(ensure_running())  # the one connect.load() started or found
        print("Open", (cfg.authorize_base_url or cfg.service_url) + "/", "to see its home page.")
    show_request_log(cfg)


def _on_class_hub(cfg) -> bool:
    """The class hub's sandbox (helpers/hub.py): its pages elsewhere, no listener of its own
    through Jupyter's proxy (that is the proxy mode, helpers/server_proxy.py)."""
    return bool(cfg.authorize_base_url and not cfg.listen_uri)
