"""A stand-in for the learner's browser: signs in on the sandbox and clicks Allow (or Deny).

Plug it in through the standard ``BROWSER`` variable, which Python's ``webbrowser`` runs and
waits for::

    BROWSER="/path/to/python /path/to/testing/scripted_browser.py %s"

or call ``sign_in(url)`` from a test. Over real HTTP it does what a learner does: opens the
authorization URL, follows redirects, fills the login form, submits the consent form, and
follows the final redirect to the redirect URI (the callback listener), where it stops.

Email, password and action default to ``SCRIPTED_BROWSER_EMAIL``, ``SCRIPTED_BROWSER_PASSWORD``
and ``SCRIPTED_BROWSER_ACTION`` (allow|deny), then to the demo account the login page shows.
When nothing listens on the redirect URI, ``sign_in`` raises ``NoListener`` (the CLI reports it
and exits 0: that is the tutorial's stage-2 "error page" moment). Any unexpected page raises
``UnexpectedPage`` (the CLI exits 1).
"""

from __future__ import annotations

import os
import sys
import time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

DEFAULT_EMAIL = "learner@example.com"
DEFAULT_PASSWORD = "tutorial"
MAX_STEPS = 20
_VOID = {"input", "br", "img", "meta", "link", "hr", "area", "base", "col", "source", "wbr"}


class ScriptedBrowserError(Exception):
    """The scripted sign-in did not go as a learner's would."""


class UnexpectedPage(ScriptedBrowserError):
    """A page the script does not know how to handle (an error page, a refused login...)."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


class NoListener(ScriptedBrowserError):
    """The final redirect pointed at an address where nothing listens (connection refused)."""

    def __init__(self, callback_url: str) -> None:
        self.callback_url = callback_url  # holds the code or error: do not print it whole
        parts = urlsplit(callback_url)
        super().__init__(
            f"Nothing listens at {parts.scheme}://{parts.netloc}{parts.path}: the browser would "
            "show a 'site can't be reached' page here (the address still carries the code)."
        )


class _Page(HTMLParser):
    """The forms, headings, alerts and demo-account hints of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.texts: dict[str, list[str]] = {"h1": [], "alert": []}
        self.ids: dict[str, str] = {}
        self._capture: list[tuple[str, str]] = []  # (tag, key) being read

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action", ""),
                    "method": a.get("method", "get").lower(),
                    "fields": {},
                    "buttons": [],
                }
            )
        elif tag == "input" and self.forms:
            if a.get("name") and a.get("type", "text") not in ("submit", "button"):
                self.forms[-1]["fields"][a["name"]] = a.get("value", "")
            elif a.get("type") == "submit":
                self.forms[-1]["buttons"].append((a.get("name", ""), a.get("value", "")))
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name", ""), a.get("value", "")))
        if tag == "h1":
            self._capture.append((tag, "h1"))
        elif "alert" in a.get("class", "").split() or a.get("role") == "alert":
            self._capture.append((tag, "alert"))
        elif a.get("id") and tag not in _VOID:
            self._capture.append((tag, "#" + a["id"]))

    def handle_endtag(self, tag):
        if self._capture and self._capture[-1][0] == tag:
            self._capture.pop()

    def handle_data(self, data):
        for _, key in self._capture:
            if key.startswith("#"):
                self.ids[key[1:]] = self.ids.get(key[1:], "") + data
            else:
                self.texts[key].append(data)

    def form(self, action_path: str) -> dict | None:
        for form in self.forms:
            if urlsplit(form["action"]).path == action_path:
                return form
        return None

    def summary(self) -> str:
        heading = " ".join(" ".join(self.texts["h1"]).split())
        alert = " ".join(" ".join(self.texts["alert"]).split())
        return f"{heading!r}" + (f" ({alert})" if alert else "")


def _parse(response: requests.Response) -> _Page:
    page = _Page()
    page.feed(response.text)
    return page


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _step(method: str, url: str, server: tuple[str, str]) -> str:
    """Which step of the sign-in a request belongs to, for ``timings``."""
    path = urlsplit(url).path
    if _origin(url) != server:
        return "callback"
    if path == "/oauth/authorize":
        return "authorize"
    if path == "/oauth/login" or (method == "GET" and path == "/oauth/consent"):
        return "login"  # the POST, and the consent page its 303 leads to
    return "consent" if path == "/oauth/consent" else "other"


def sign_in(
    url: str,
    *,
    email: str | None = None,
    password: str | None = None,
    action: str | None = None,
    timeout: float = 10.0,
    timings: dict[str, float] | None = None,
) -> requests.Response:
    """Walk the authorization URL like a learner; return the redirect URI's response.

    ``action`` is "allow" or "deny". Raises ``NoListener`` when the last hop is refused and
    ``UnexpectedPage`` on anything a learner would be stuck at. ``timings``: the seconds of each
    step (authorize, login, consent, callback) are added to it (the benchmark's stopwatch).
    """
    timings = {} if timings is None else timings
    email = email or os.environ.get("SCRIPTED_BROWSER_EMAIL") or None
    password = password or os.environ.get("SCRIPTED_BROWSER_PASSWORD") or None
    action = (action or os.environ.get("SCRIPTED_BROWSER_ACTION") or "allow").lower()
    if action not in ("allow", "deny"):
        raise ValueError("action is 'allow' or 'deny'")
    server = _origin(url)
    logged_in = False
    with requests.Session() as browser:
        browser.trust_env = False  # browsers do not send 127.0.0.1 through a proxy either
        method, target, data = "GET", url, None
        for _ in range(MAX_STEPS):
            step, started = _step(method, target, server), time.perf_counter()
            try:
                if method == "GET":
                    response = browser.get(target, allow_redirects=False, timeout=timeout)
                else:
                    response = browser.post(
                        target, data=data, allow_redirects=False, timeout=timeout
                    )
            except requests.ConnectionError as exc:
                if _origin(target) != server:
                    raise NoListener(target) from exc
                raise ScriptedBrowserError(
                    f"Cannot reach the sign-in page at {target}: {exc}"
                ) from exc
            if _origin(target) != server:
                _lap(timings, step, started)
                return response  # the redirect URI answered: the browser's journey ends here
            if response.is_redirect:
                _lap(timings, step, started)
                # After a POST, 302/303 become a GET (what browsers do).
                method, target, data = "GET", urljoin(target, response.headers["Location"]), None
                continue
            page = _parse(response)
            _lap(timings, step, started)
            login = page.form("/oauth/login")
            consent = page.form("/oauth/consent")
            if login is not None:
                if logged_in:
                    raise UnexpectedPage(f"The login was refused: {page.summary()}", response)
                fields = dict(login["fields"])
                fields["email"] = email or page.ids.get("demo-email", "").strip() or DEFAULT_EMAIL
                fields["password"] = (
                    password or page.ids.get("demo-password", "").strip() or DEFAULT_PASSWORD
                )
                method, target, data = "POST", urljoin(target, login["action"]), fields
                logged_in = True
                continue
            if consent is not None:
                fields = dict(consent["fields"])
                names = {value: name for name, value in consent["buttons"]}
                if action not in names:
                    raise UnexpectedPage(f"No {action!r} button on the consent page.", response)
                fields[names[action]] = action
                method, target, data = "POST", urljoin(target, consent["action"]), fields
                continue
            raise UnexpectedPage(
                f"Unexpected page (HTTP {response.status_code}) at {urlsplit(target).path}: "
                f"{page.summary() or response.text[:200]!r}",
                response,
            )
    raise ScriptedBrowserError(f"More than {MAX_STEPS} steps: a redirect loop?")


def _lap(timings: dict[str, float], step: str, started: float) -> None:
    timings[step] = timings.get(step, 0.0) + time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: scripted_browser.py AUTHORIZATION_URL", file=sys.stderr)
        return 2
    try:
        response = sign_in(args[0])
    except NoListener as exc:
        print(f"scripted browser: {exc}")
        return 0
    except ScriptedBrowserError as exc:
        print(f"scripted browser: {exc}", file=sys.stderr)
        return 1
    except requests.RequestException as exc:
        print(f"scripted browser: HTTP failure: {exc}", file=sys.stderr)
        return 1
    parts = urlsplit(response.url)
    print(
        f"scripted browser: reached {parts.scheme}://{parts.netloc}{parts.path}, which "
        f"answered HTTP {response.status_code}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
