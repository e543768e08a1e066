"""How the helpers talk HTTP: sessions, time-outs, and failures as named errors.

Every call to the authorization server or an API goes through here, so each one has a timeout
(pitfall 9), never goes through a proxy to reach this machine, and fails with a named error
from ``helpers.errors`` instead of a traceback from ``requests``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .config import is_loopback_host
from .errors import TOKEN_ERRORS, ServiceTimeout, ServiceUnreachable, TokenError, UnexpectedResponse
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


def prepare(session: requests.Session, url: str, trace: Trace | None = None) -> requests.Session:
    """Set a session up for ``url``: no proxy for this machine, a deadline for the whole
    answer, and the trace's hook."""
    adapter = _WholeAnswerDeadline()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if is_loopback_host(urlsplit(url).hostname):
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
    """A server-supplied error code or description, cut to a readable length."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "…"


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
