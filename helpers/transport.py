"""How the helpers talk HTTP: sessions, time-outs, and failures as named errors.

Every call to the authorization server or an API goes through here, so each one has a timeout
(``requests`` has none by default: a silent server would hang the cell), never goes through a
proxy to reach this machine, and fails with a named error from ``helpers.errors`` instead of a
traceback from ``requests``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .errors import TOKEN_ERRORS, ServiceTimeout, ServiceUnreachable, TokenError, UnexpectedResponse
from .loopback import is_loopback
from .redact import printable
from .trace import Trace

#: Seconds to wait for a server to answer.
DEFAULT_TIMEOUT = 10.0

#: Longest error code or description quoted from a server: a message is not a data dump.
MAX_QUOTED = 300


class _WholeAnswerDeadline(HTTPAdapter):
    """Bound the whole answer by the timeout, not just each read.

    requests' ``timeout`` limits the wait for each piece of the answer, so a server that sends
    a byte every half second would keep a cell busy for as long as it likes.
    """

    def send(self, request, stream=False, timeout=None, **kwargs):
        started = time.monotonic()
        response = super().send(request, stream=True, timeout=timeout, **kwargs)
        if stream or timeout is None:
            return response
        limit = sum(timeout) if isinstance(timeout, tuple) else float(timeout)
        # read1 returns whatever has arrived (urllib3 2); read(n) would wait for all n bytes.
        read = getattr(response.raw, "read1", response.raw.read)
        chunks = []
        try:
            while chunk := read(64 * 1024, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() - started > limit:
                    response.close()
                    raise requests.Timeout(f"the whole answer took longer than {limit:g} s")
        except urllib3.exceptions.ReadTimeoutError as e:  # as requests itself translates them
            raise requests.Timeout(e) from e
        except urllib3.exceptions.DecodeError as e:
            raise requests.exceptions.ContentDecodingError(e) from e
        except urllib3.exceptions.ProtocolError as e:
            raise requests.exceptions.ChunkedEncodingError(e) from e
        response._content = b"".join(chunks)  # what requests itself does when not streaming
        return response


_plain_http_lock = threading.Lock()
_plain_http_users = 0  # calls to a loopback server in progress, in any thread
_plain_http_was_set = False  # the variable was set before we touched it: leave it alone


@contextmanager
def plain_http_if_loopback(url: str) -> Iterator[None]:
    """Let oauthlib call ``url`` over http:// if it is on this machine, and nothing else.

    oauthlib refuses http:// (OAuth 2.0 needs TLS) unless OAUTHLIB_INSECURE_TRANSPORT is set,
    and that switch is process-wide. We set it only while calls to a loopback server are in
    progress (counted across threads, so two sign-ins at once do not undo each other) and
    remove it afterwards, so a GoTo URL is never allowed over plain http.
    """
    global _plain_http_users, _plain_http_was_set
    if not is_loopback(urlsplit(url).hostname):
        yield
        return
    with _plain_http_lock:
        if _plain_http_users == 0:
            _plain_http_was_set = "OAUTHLIB_INSECURE_TRANSPORT" in os.environ
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        _plain_http_users += 1
    try:
        yield
    finally:
        with _plain_http_lock:
            _plain_http_users -= 1
            if _plain_http_users == 0 and not _plain_http_was_set:
                os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)


def prepare(session: requests.Session, url: str, trace: Trace | None = None) -> requests.Session:
    """Set a session up for ``url``: no proxy for this machine, a deadline for the whole
    answer, and the trace's hook."""
    adapter = _WholeAnswerDeadline()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if is_loopback(urlsplit(url).hostname):
        # An HTTP_PROXY setting (common behind company proxies) would otherwise send requests
        # for 127.0.0.1 to the proxy, which cannot reach this machine's sandbox or listener.
        session.trust_env = False
    if trace is not None:
        session.hooks["response"].append(trace.hook)
    return session


def session_for(url: str, trace: Trace | None = None) -> requests.Session:
    return prepare(requests.Session(), url, trace)


@contextmanager
def talking_to(url: str, timeout: float, setting: str = "OAUTH_SERVICE_URL") -> Iterator[None]:
    """Turn connection failures and time-outs into named errors."""
    try:
        yield
    except requests.Timeout:
        raise ServiceTimeout(url, timeout) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        # The server hung up (or sent garbage) in the middle of its answer.
        raise ServiceUnreachable(
            url, "the connection broke off in the middle of the answer", setting
        ) from None
    except requests.ConnectionError:
        raise ServiceUnreachable(
            url, "connection refused, or the host could not be found", setting
        ) from None


def quoted(value: object) -> str | None:
    """A server-supplied error code or description, cut to a readable length, its control
    characters escaped (it ends up in a terminal)."""
    return None if value is None else printable(str(value), MAX_QUOTED)


def json_object(response: requests.Response, setting: str = "OAUTH_SERVICE_URL") -> dict:
    """The answer's JSON object, or ``UnexpectedResponse`` (HTML error pages, lists, garbage)."""
    content_type = response.headers.get("Content-Type", "")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UnexpectedResponse(
            response.url, response.status_code, content_type, response.text, setting
        )
    return data


def raise_oauth_error(response: requests.Response, data: dict, **attempt) -> NoReturn:
    """Raise the named error for an RFC 6749 §5.2 error answer (``attempt``: grant, pkce)."""
    error = quoted(data.get("error") or f"http_{response.status_code}")
    cls = TOKEN_ERRORS.get(error or "", TokenError)
    raise cls(error, quoted(data.get("error_description")), response.status_code, **attempt)
