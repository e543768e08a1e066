"""Views for the notebooks: ipywidgets 8 over the helpers, with a plain-text fallback.

    >>> from helpers import connect, ui
    >>> cfg = connect.load()
    >>> token = ui.sign_in(cfg)        # shows the sign-in panel, opens the browser, waits
    >>> ui.TokenCard(token)            # masked token, principal, scopes, live expiry

Nothing here speaks OAuth: the flow's steps and decisions are in ``flow`` (and the modules it
calls); the views only show what those calls did. No cell depends on a click: the panel's
sign-in link works while the kernel waits, and ``sign_in`` also opens the browser and waits by
itself, with a timeout. Without ipywidgets, or outside a Jupyter kernel (a terminal, pytest),
every view prints plain text lines instead.

One module per view: ``panel`` (the sign-in panel), ``sign_in_cell`` (``sign_in``,
``wait_for_callback``, ``saved_or_new_token``), ``scopes``, ``token_card``, ``paste``,
``trace_view``; ``widgets`` (what they share) and ``repeat`` (a sign-in cell run again).
"""

# ui.browser and ui.flow are the modules the views call (tests replace their functions).
from .. import browser, flow
from .panel import SignInPanel
from .paste import PasteBox
from .scopes import KNOWN_SCOPES, ScopePicker
from .sign_in_cell import saved_or_new_token, sign_in, wait_for_callback
from .token_card import TokenCard
from .trace_view import TraceView
from .widgets import DEFAULT_TIMEOUT, NEXT_STEP, use_widgets, widgets_enabled

__all__ = [
    "DEFAULT_TIMEOUT",
    "KNOWN_SCOPES",
    "NEXT_STEP",
    "PasteBox",
    "ScopePicker",
    "SignInPanel",
    "TokenCard",
    "TraceView",
    "browser",
    "flow",
    "saved_or_new_token",
    "sign_in",
    "use_widgets",
    "wait_for_callback",
    "widgets_enabled",
]
