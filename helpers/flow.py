"""The sign-in flow as a few calls, shared by the notebook views (``ui``) and ``python -m helpers``.

    >>> from helpers import connect, flow
    >>> cfg = connect.load()
    >>> token = flow.sign_in(cfg, on_event=lambda kind, message: print(kind, message))
    waiting Waiting for you to sign in and click Allow.
    received Callback received with the right state; the code is ready.
    token Token received for learner@example.com.

Each step is one call to ``authorization``, ``callback``, ``browser`` or ``tokens``; this module
only puts them in order and decides what happens when one fails (paste the address, refresh a
saved token, sign in again). It shows nothing itself: progress goes to ``on_event(kind,
message)``, with the kinds ``helpers.events.Kind`` lists: the listener's, plus "waiting" (the
browser is about to open), "token" and "error".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

import requests

from . import browser, tokens
from .authorization import AuthorizationRequest
from .callback import CallbackListener, CallbackResult, parse_callback_url
from .config import OAuthConfig
from .errors import (
    CallbackTimeout,
    InvalidCallbackAddress,
    ListenerStopped,
    NoSavedToken,
    OAuthTutorialError,
    SandboxStopped,
    StateMismatch,
    TokenError,
    TokenExpired,
)
from .events import EventCallback, emit
from .tokens import Token, TokenStore
from .trace import Trace
from .transport import session_for

__all__ = [
    "PASTE_PROMPT",
    "SandboxWatch",
    "ask_for_pasted_callback",
    "saved_or_new_token",
    "sign_in",
    "wait_for_code",
]

#: ``ask(prompt) -> answer``: ``input`` in a kernel or a terminal.
Ask = Callable[[str], str]

#: Seconds to wait for the learner to sign in.
DEFAULT_TIMEOUT = 300.0

#: Seconds between two looks at the sandbox's /health while waiting; two misses in a row mean
#: it stopped (one may be a busy moment).
HEALTH_EVERY = 3.0
HEALTH_MISSES = 2

PASTE_PROMPT = "Paste the address your browser ended on (or press Enter to give up): "


def ask_for_pasted_callback(
    request: AuthorizationRequest, ask: Ask, *, say: Callable[[str], None] = print
) -> CallbackResult | None:
    """Ask for the address the browser ended on and check it as the listener would.

    Returns the callback, or None when the learner gives up (an empty answer) or nothing can be
    read: no stdin under nbclient (``StdinNotImplementedError``), a closed one (``EOFError``),
    pytest's capture (``OSError``). An address that fails the checks is explained and asked
    for again; a pasted ``error=access_denied`` raises ``AuthorizationDenied``, as the listener
    would.
    """
    say(
        "No callback reached the listener. If Jupyter (or this program) runs on another machine, "
        "your browser shows an error page: its address still holds the code and the state."
    )
    while True:
        try:
            answer = ask(PASTE_PROMPT)
        except (EOFError, OSError, NotImplementedError):
            return None
        if not (answer or "").strip():
            return None
        try:
            return parse_callback_url(answer, request.redirect_uri, request.state)
        except (InvalidCallbackAddress, StateMismatch) as e:
            say(f"{type(e).__name__}: {e}")


def sandbox_answers(service_url: str, timeout: float = 1.0) -> bool:
    """True when the sandbox answers HTTP at ``/health`` (any answer, even a slow one: it is up)."""
    try:
        with session_for(service_url) as session:
            session.get(service_url + "/health", timeout=timeout)
    except requests.ReadTimeout:
        return True  # connected, but busy (a class signing in at once): not gone
    except requests.RequestException:
        return False
    return True


class SandboxWatch:
    """Looks at the local sandbox's ``/health`` while a sign-in waits, and says when it stops.

        >>> watch = SandboxWatch("http://127.0.0.1:8765", on_gone=print).start()
        >>> watch.stop()

    After ``HEALTH_MISSES`` looks in a row without an answer, ``gone`` is set to a
    ``SandboxStopped`` and ``on_gone(gone)`` is called once, from the watch's thread. The
    browser cannot finish a sign-in with a server that is gone, so the caller ends the wait.
    """

    def __init__(
        self,
        service_url: str,
        on_gone: Callable[[SandboxStopped], None],
        *,
        every: float | None = None,
    ) -> None:
        self.service_url = service_url
        self.on_gone = on_gone
        self.every = every or HEALTH_EVERY
        self.gone: SandboxStopped | None = None
        self._done = threading.Event()

    def start(self) -> SandboxWatch:
        threading.Thread(target=self._run, name="sandbox-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._done.set()

    def _run(self) -> None:
        misses = 0
        while not self._done.wait(self.every):
            misses = 0 if sandbox_answers(self.service_url) else misses + 1
            if misses >= HEALTH_MISSES and not self._done.is_set():
                self.gone = SandboxStopped(self.service_url)
                with contextlib.suppress(Exception):  # a broken view must not break the watch
                    self.on_gone(self.gone)
                return


def sandbox_url(config: OAuthConfig) -> str | None:
    """The service to watch while waiting: the local sandbox's, None for GoTo."""
    return config.service_url if config.is_sandbox else None


def waiting_message(button: str = "Allow") -> str:
    return f"Waiting for you to sign in and click {button}."


def wait_for_code(
    request: AuthorizationRequest,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    on_event: EventCallback | None = None,
    open_browser: bool = True,
    ask: Ask | None = None,
    say: Callable[[str], None] = print,
    sandbox: str | None = None,
    button: str = "Allow",
    return_to: str = "the notebook",
) -> CallbackResult:
    """Stage 3: listen on the redirect URI, open the browser, wait for the genuine callback.

    Raises what ``CallbackListener.wait`` raises. With ``ask``, a ``CallbackTimeout`` or an
    interrupt (■, Ctrl-C) first asks for the pasted address (``ask_for_pasted_callback``), and
    is raised only if none is given. ``sandbox``: the local sandbox's URL (``sandbox_url``);
    when it stops answering, the wait ends with ``SandboxStopped``. ``button``: what the
    learner is asked to click on the consent page. ``return_to``: where the browser's page
    sends the learner back to. The listener is stopped whatever happens.
    """
    listener = CallbackListener(
        request.listen_uri, request.state, on_event=on_event, return_to=return_to
    )
    listener.start(timeout=None)  # wait() below bounds it
    watch = None
    if sandbox:

        def gone(error: SandboxStopped) -> None:
            emit(on_event, "error", str(error))
            listener.stop()  # the wait below raises ListenerStopped, turned into ``error``

        watch = SandboxWatch(sandbox, gone).start()
    try:
        emit(on_event, "waiting", waiting_message(button))
        if open_browser:
            browser.open_url(request.url, show=False)
        return listener.wait(timeout)
    except ListenerStopped:
        if watch is not None and watch.gone is not None:
            raise watch.gone from None
        raise
    except (CallbackTimeout, KeyboardInterrupt):
        if ask is None:
            raise
        listener.stop()  # free the port before asking: nothing more will come there
        pasted = ask_for_pasted_callback(request, ask, say=say)
        if pasted is None:
            raise  # the original timeout or interrupt
        emit(on_event, "received", "Pasted callback accepted: right path, right state.")
        return pasted
    finally:
        if watch is not None:
            watch.stop()
        listener.stop()


def sign_in(
    config: OAuthConfig,
    *,
    scopes: Sequence[str] | None = None,
    pkce: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    on_event: EventCallback | None = None,
    open_browser: bool = True,
    trace: Trace | None = None,
    request: AuthorizationRequest | None = None,
    ask: Ask | None = None,
    say: Callable[[str], None] = print,
    return_to: str = "the notebook",
) -> Token:
    """The whole flow: authorization request, listener, browser, callback, code exchange.

    ``request``: an authorization request made already (the caller shows its URL); otherwise a
    new one with ``scopes`` and ``pkce``. ``ask`` and ``return_to``: as in ``wait_for_code``,
    which also watches the local sandbox while it waits.
    """
    if request is None:
        request = AuthorizationRequest.new(config, scopes=scopes, pkce=pkce)
    result = wait_for_code(
        request,
        timeout=timeout,
        on_event=on_event,
        open_browser=open_browser,
        ask=ask,
        say=say,
        sandbox=sandbox_url(config),
        return_to=return_to,
    )
    try:
        token = tokens.exchange(config, request, result.code, trace=trace)
    except OAuthTutorialError as e:
        emit(on_event, "error", str(e))
        raise
    emit(on_event, "token", f"Token received for {token.principal or 'the user'}.")
    return token


def saved_or_new_token(
    config: OAuthConfig,
    store: TokenStore | None = None,
    *,
    new_token: Callable[[], Token] | None = None,
    say: Callable[[str], None] = print,
) -> Token:
    """The saved token (refreshed if it expired), or a new sign-in, saved for next time.

    ``new_token()`` makes the new token (default: ``sign_in(config)``). Says in one line,
    through ``say``, which it was. The saved token is not tried against an API: one that the
    server dropped early (revoked, the sandbox's data reset) shows up as ``InvalidToken`` at the
    first call, and the caller signs in again then.
    """
    store = store or TokenStore()
    try:
        token = store.load_for(config)
        if token.is_expired(leeway=60):
            token = tokens.refresh(config, token)
            store.save(token)
            say("The saved token had expired: refreshed it.")
        else:
            say(f"Using the token saved in {store.path}.")
        return token
    except NoSavedToken as e:
        say(f"No usable saved token ({type(e).__name__}): signing in.")
    except (TokenError, TokenExpired) as e:
        say(f"The saved token cannot be renewed ({type(e).__name__}): signing in.")
    token = new_token() if new_token is not None else sign_in(config)
    store.save(token)
    return token
