"""Notebook 6 (security lab): a listener without the state check, forged."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

from .verdict import TODO, Verdict, exercise, not_done, right, wrong

#: The code the attacker of notebook 6's exercise got from their own sign-in.
ATTACKER_CODE = "code-from-the-attackers-own-sign-in"


class NaiveHandler(BaseHTTPRequestHandler):
    """A callback handler with no state check: it takes any code it is given."""

    def do_GET(self):
        query = parse_qs(urlsplit(self.path).query)
        if "code" in query:
            self.server.codes.append(query["code"][0])  # and the app would exchange it...
            self.send_response(200)
        else:
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


class NaiveListener:
    """``NaiveHandler`` on a free loopback port, in a thread: ``with NaiveListener() as n:``."""

    def __enter__(self) -> NaiveListener:
        self.server = HTTPServer(("127.0.0.1", 0), NaiveHandler)
        self.server.codes = []
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}/login/oauth2/code/goto"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def codes(self) -> list[str]:
        return self.server.codes

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@exercise
def check_naive_forgery(forge: Callable[[str], str]) -> Verdict:
    """Exercise 6.1: a forged callback that the naive listener takes and the real one refuses."""
    if not_done(forge):
        return TODO
    from .. import lab
    from ..callback import CallbackListener

    with NaiveListener() as naive:
        url = forge(naive.redirect_uri)
        if not_done(url) or url is None:
            return TODO
        if not str(url).startswith(naive.redirect_uri + "?"):
            return wrong("the forged address must be the redirect URI followed by '?' and a query.")
        naive_answer = lab.probe(str(url))
        taken = list(naive.codes)
    if taken != [ATTACKER_CODE]:
        return wrong(
            f"the naive listener answered HTTP {naive_answer.status} and took {taken or 'no code'}"
            f"; deliver exercises.ATTACKER_CODE as the code."
        )
    real = CallbackListener(naive.redirect_uri, secrets.token_urlsafe(20)).start()
    try:
        real_answer = lab.probe(str(url))
    finally:
        real.stop()
    if real_answer.status != 403:
        return wrong(f"the state-checking listener answered {real_answer}, not 403.")
    return right(
        f"the naive listener took the attacker's code (HTTP {naive_answer.status}): its app would "
        f"now work in the attacker's account. The same address to a listener that checks state: "
        f"{real_answer}."
    )
