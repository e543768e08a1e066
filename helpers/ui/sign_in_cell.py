"""The sign-in cells' calls: the flow (``helpers.flow``) with the sign-in panel in front."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .. import flow
from ..authorization import AuthorizationRequest
from ..callback import CallbackResult
from ..cell_clock import this_cell_run
from ..config import OAuthConfig
from ..errors import OAuthTutorialError
from ..tokens import Token, TokenStore
from ..trace import Trace
from .panel import SignInPanel, panel_events, show_failure
from .repeat import record, refuse_a_repeat
from .widgets import DEFAULT_TIMEOUT


def wait_for_callback(
    config: OAuthConfig,
    request: AuthorizationRequest,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    panel: SignInPanel | None = None,
    paste: bool = True,
    button: str = "Allow",
) -> CallbackResult:
    """Show the sign-in panel, listen on the redirect URI, open the browser, wait.

    Returns the callback (its code masked in every representation), or raises what
    ``CallbackListener.wait`` raises: ``AuthorizationDenied``, ``CallbackTimeout``... With
    ``paste`` (the default), a timeout or an interrupt (■) first asks for the address the
    browser ended on (remote Jupyter: the browser cannot reach this kernel), checked like a
    callback; where the kernel cannot ask (no stdin), the error is raised as before.
    ``button``: what the panel asks the learner to click on the consent page (Allow, Deny).
    With the local sandbox (``config.is_sandbox``), the wait ends with ``SandboxStopped`` if
    the sandbox stops answering. A cell run again while its sign-in waited raises
    ``RepeatedSignIn`` instead of starting another.
    """
    run = this_cell_run()
    refuse_a_repeat(run)
    started = time.monotonic()
    panel = panel or SignInPanel(request.url, timeout=timeout)
    panel.show()
    try:
        result = flow.wait_for_code(
            request,
            timeout=timeout,
            on_event=panel_events(panel, timeout),
            open_browser=open_browser,
            ask=input if paste else None,
            sandbox=flow.sandbox_url(config),
            button=button,
        )
    except (OAuthTutorialError, KeyboardInterrupt) as e:
        show_failure(panel, e)
        raise
    record(run, started)
    print(f"Callback received: {result!r}", flush=True)
    return result


def sign_in(
    config: OAuthConfig,
    *,
    scopes: Sequence[str] | None = None,
    pkce: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    save: bool = False,
    trace: Trace | None = None,
    paste: bool = True,
) -> Token:
    """The whole flow in one call (``flow.sign_in``), with the sign-in panel.

    For notebooks that need a token but teach something else. ``save=True`` also saves it
    with ``TokenStore().save``. ``paste``, the sandbox watch and ``RepeatedSignIn``: as in
    ``wait_for_callback``.
    """
    run = this_cell_run()
    refuse_a_repeat(run)
    started = time.monotonic()
    request = AuthorizationRequest.new(config, scopes=scopes, pkce=pkce)
    panel = SignInPanel(request.url, timeout=timeout)
    panel.show()
    try:
        token = flow.sign_in(
            config,
            request=request,
            timeout=timeout,
            on_event=panel_events(panel, timeout),
            open_browser=open_browser,
            trace=trace,
            ask=input if paste else None,
        )
    except (OAuthTutorialError, KeyboardInterrupt) as e:
        show_failure(panel, e)
        raise
    record(run, started)
    print(f"Token received: {token!r}", flush=True)
    if save:
        path = TokenStore().save(token)
        print(f"Saved to {path} (readable only by you).", flush=True)
    return token


def saved_or_new_token(
    config: OAuthConfig,
    *,
    store: TokenStore | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Token:
    """The token 04_token_exchange saved (refreshed if it expired), or a fresh sign-in.

    ``flow.saved_or_new_token`` decides; a new sign-in shows the panel. A new token is saved
    for the next notebook. Says in one line which it was.
    """
    return flow.saved_or_new_token(
        config,
        store,
        new_token=lambda: sign_in(config, timeout=timeout),
        say=lambda line: print(line, flush=True),
    )
