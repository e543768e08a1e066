"""In a notebook, the tutorial's own errors show their message; the traceback is one click away.

    >>> import helpers                   # in a Jupyter kernel, this already did:
    >>> from helpers import error_display
    >>> error_display.install()

IPython calls ``show`` (through ``InteractiveShell.set_custom_exc``) for every
``OAuthTutorialError`` a cell lets through: the error's name and message, which say what happened
and what to do, then a collapsed "Where it happened" with the traceback. A ``KeyboardInterrupt``
(■) that stops a helper while it waits is one line; any other keeps IPython's usual traceback.
The cell still fails, so "Run All" stops there as before. Outside a notebook nothing changes.
On a class's JupyterHub the error's name and redacted message also go to the instructor page
(``hub.report_error``).
"""

from __future__ import annotations

import sys
import traceback
from html import escape
from pathlib import Path
from types import TracebackType

from .errors import OAuthTutorialError

__all__ = ["install", "show"]

_HELPERS = Path(__file__).resolve().parent

INTERRUPTED = (
    "⏹ Interrupted: stopped waiting, and the listener freed its port. Run the cell again to "
    "start over."
)


def _in_helpers(tb: TracebackType | None) -> bool:
    """True when one of the traceback's frames runs this package's code (a helper's wait)."""
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(_HELPERS):
            return True
        tb = tb.tb_next
    return False


def bundle(error: BaseException, tb: TracebackType | None) -> dict[str, str]:
    """The display data for an error: its message as text and HTML, the traceback folded away."""
    if isinstance(error, KeyboardInterrupt):
        return {"text/plain": INTERRUPTED, "text/html": f"<div>{escape(INTERRUPTED)}</div>"}
    name = type(error).__name__
    where = "".join(traceback.format_exception(type(error), error, tb))
    html = (
        '<div class="oauth-tutorial-error" '
        'style="border-left:4px solid #b00;padding:6px 10px;background:#fdf3f3">'
        f'<div style="white-space:pre-wrap"><b style="color:#b00">{escape(name)}</b>: '
        f"{escape(str(error))}</div>"
        '<details style="margin-top:6px"><summary style="cursor:pointer;color:#555">'
        "Where it happened (for the curious)</summary>"
        f'<pre style="white-space:pre-wrap;font-size:85%">{escape(where)}</pre></details></div>'
    )
    return {"text/plain": f"{name}: {error}", "text/html": html}


def show(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython's custom exception handler (``set_custom_exc``): display, return nothing."""
    if isinstance(value, KeyboardInterrupt) and not _in_helpers(tb):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return
    from IPython.display import display

    # The first frame is IPython's own (the exec of the cell), as in its usual tracebacks.
    display(bundle(value, tb.tb_next if tb is not None else None), raw=True)
    if not isinstance(value, KeyboardInterrupt):
        from . import hub  # here, not at the top: ``import helpers`` stays light (urllib)

        hub.report_error(value)  # on a class hub, the instructor page's "last error"


def _notebook_shell():
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    return shell if type(shell).__name__ == "ZMQInteractiveShell" else None


def install(shell=None) -> bool:
    """Register ``show`` with ``shell`` (default: this notebook kernel's). True if registered.

    Importing ``helpers`` in a notebook calls it, so no cell has to. Without a shell (a
    terminal, pytest, ``python -m helpers``) it does nothing.
    """
    shell = shell or _notebook_shell()
    if shell is None:
        return False
    shell.set_custom_exc((OAuthTutorialError, KeyboardInterrupt), show)
    return True
