"""Open a URL in the learner's browser, and always show it as a link too.

    >>> from helpers import browser
    >>> browser.open_url("http://127.0.0.1:8765/")   # the link, and a browser tab if possible

The standard ``webbrowser`` module picks the browser; the standard ``BROWSER`` environment
variable overrides it (tests use that to plug in a scripted browser). When no browser can be
opened (a remote Jupyter server, a container), the link is still there to click or copy.
"""

from __future__ import annotations

import os
import sys
import webbrowser
from html import escape


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and type(shell).__name__ == "ZMQInteractiveShell"


def show_link(url: str, label: str = "Open the sign-in page") -> None:
    """Print the URL (a clickable link in a notebook)."""
    if _in_notebook():
        from IPython.display import HTML, display

        display(HTML(f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(label)}</a>'))
    else:
        print(f"{label}: {url}", flush=True)


def _has_graphical_browser() -> bool:
    """False on a Linux machine with no display, unless BROWSER names a browser to use.

    There ``webbrowser`` would fall back to a console browser (lynx, w3m) and wait for it to
    exit, which would freeze a notebook's kernel: the link shown is the way in then.
    """
    if os.environ.get("BROWSER"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def start_browser(url: str) -> bool:
    """Ask the system to open ``url`` in a browser. Returns whether one was started."""
    if not _has_graphical_browser():
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


def open_url(url: str, *, label: str = "Open the sign-in page", show: bool = True) -> None:
    """Show the link, then ask the system to open it.

    Returns None, so a cell ending with it shows the link and no ``Out: False`` under it.
    """
    if show:
        show_link(url, label)
    start_browser(url)
