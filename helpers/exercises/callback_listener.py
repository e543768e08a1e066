"""Notebook 3 (callback listener): the state check, and a tampered state."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from ..errors import PortInUse
from ..loopback import free_port
from .verdict import TODO, Verdict, exercise, not_done, right, source_of, wrong

_STATE_CASES = [
    ({"code": "c", "state": "s3cret-state"}, True, "the genuine callback was refused"),
    ({"code": "c", "state": "guessed"}, False, "a callback with a wrong state was accepted"),
    (
        {"code": "c"},
        False,
        "a callback with no state at all was accepted: an attacker simply leaves it out",
    ),
    ({"code": "c", "state": ""}, False, "a callback with an empty state was accepted"),
    ({"code": "c", "state": "s3cret"}, False, "a callback with half the state was accepted"),
]


@exercise
def check_state_check(state_ok: Callable[[dict, str], bool]) -> Verdict:
    """Exercise 3.1: the broken state check, fixed."""
    if not_done(state_ok):
        return TODO
    for query, expected, failure in _STATE_CASES:
        got = state_ok(dict(query), "s3cret-state")
        if not_done(got):
            return TODO
        if bool(got) != expected:
            return wrong(f"{failure} (query {query}).")
    tip = ""
    if "compare_digest" not in source_of(state_ok):
        tip = " The helpers compare with secrets.compare_digest, whose time does not depend on "
        tip += "where the strings differ (see docs/troubleshooting.md)."
    return right("only the exact state of this attempt gets through." + tip)


@exercise
def check_tampered_state(tamper: Callable[[str], str]) -> Verdict:
    """Exercise 3.2: send the listener a callback whose state you changed, and watch the 403."""
    if not_done(tamper):
        return TODO
    from .. import lab
    from ..callback import CallbackListener

    state = secrets.token_urlsafe(20)
    tampered = tamper(state)
    if not_done(tampered) or tampered is None:
        return TODO
    if tampered == state:
        return wrong("that is the genuine state, unchanged: the listener would accept it.")
    for _attempt in range(3):
        redirect_uri = f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto"
        try:
            listener = CallbackListener(redirect_uri, state).start()
            break
        except PortInUse:
            continue
    else:
        return wrong("no free port for the practice listener; run the cell again.")
    try:
        answer = lab.forge_callback(redirect_uri, state=str(tampered))
        waiting = listener.is_running
    finally:
        listener.stop()
    if answer.status == 403 and waiting:
        return right(
            f"a practice listener got your tampered state and answered {answer}; it kept "
            "waiting for the genuine callback. One changed character is enough."
        )
    return wrong(f"the practice listener answered {answer}, still waiting: {waiting}.")
