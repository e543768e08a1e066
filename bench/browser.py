"""The scripted browser of ``tests/scripted_browser.py``, with a stopwatch on each step.

It walks the same pages the same way (one ``requests.Session`` per sign-in, as a browser keeps
one connection to the sign-in site; the same HTML parser; the same forms), and labels each HTTP
request with the step of the sign-in it belongs to:

    authorize   GET /oauth/authorize                  -> the login page
    login       POST /oauth/login, then its 303 to GET /oauth/consent -> the consent page
    consent     POST /oauth/consent                   -> the 302 to the redirect URI
    callback    GET <redirect URI>                    -> the listener's page

It drives the three clients of the benchmark identically, so their differences are theirs.
"""

from __future__ import annotations

import time
from urllib.parse import urljoin, urlsplit

import requests

from tests.scripted_browser import (
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    MAX_STEPS,
    NoListener,
    UnexpectedPage,
    _parse,
)


def _step(method: str, url: str, server: tuple[str, str]) -> str:
    parts = urlsplit(url)
    if (parts.scheme, parts.netloc) != server:
        return "callback"
    if parts.path == "/oauth/authorize":
        return "authorize"
    if parts.path == "/oauth/login" or (method == "GET" and parts.path == "/oauth/consent"):
        return "login"
    if parts.path == "/oauth/consent":
        return "consent"
    return "other"


def sign_in(
    url: str,
    *,
    email: str = DEFAULT_EMAIL,
    password: str = DEFAULT_PASSWORD,
    timings: dict[str, float] | None = None,
    timeout: float = 10.0,
) -> requests.Response:
    """Sign in and click Allow; add each step's seconds to ``timings``; return the callback's
    response (the page the redirect URI answered)."""
    timings = {} if timings is None else timings
    parts = urlsplit(url)
    server = (parts.scheme, parts.netloc)
    logged_in = False
    with requests.Session() as browser:
        # A browser does not read proxy variables on every request; requests would scan the
        # whole environment twice per request, the harness's largest CPU cost in a class run.
        browser.trust_env = False
        method, target, data = "GET", url, None
        for _ in range(MAX_STEPS):
            step = _step(method, target, server)
            started = time.perf_counter()
            try:
                response = browser.request(
                    method, target, data=data, allow_redirects=False, timeout=timeout
                )
            except requests.ConnectionError as exc:
                if step == "callback":
                    raise NoListener(target) from exc
                raise
            if step == "callback":
                timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
                return response
            if response.is_redirect:
                timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
                method, target, data = "GET", urljoin(target, response.headers["Location"]), None
                continue
            page = _parse(response)
            timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
            login = page.form("/oauth/login")
            consent = page.form("/oauth/consent")
            if login is not None and not logged_in:
                fields = {**login["fields"], "email": email, "password": password}
                method, target, data = "POST", urljoin(target, login["action"]), fields
                logged_in = True
            elif consent is not None:
                fields = dict(consent["fields"])
                names = {value: name for name, value in consent["buttons"]}
                fields[names["allow"]] = "allow"
                method, target, data = "POST", urljoin(target, consent["action"]), fields
            else:
                raise UnexpectedPage(f"unexpected page at {target}: {page.summary()}", response)
    raise UnexpectedPage(f"more than {MAX_STEPS} steps")
