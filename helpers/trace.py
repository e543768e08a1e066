"""A record of the HTTP exchanges the helpers make, with every secret masked, for display.

    >>> trace = Trace()
    >>> token = tokens.exchange(cfg, request, code, trace=trace)
    >>> trace            # in a notebook: the request and the response, secrets masked

Pass ``trace.hook`` as a requests response hook; ``tokens`` and ``api`` do that for you.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import requests

from .redact import redact_body, redact_header, redact_url


def redact_headers(headers) -> dict[str, str]:
    return {k: redact_header(k, v) for k, v in headers.items()}


@dataclass(frozen=True)
class Exchange:
    """One request and its response, secrets already masked."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    elapsed_ms: float

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url}"]
        lines += [f"{k}: {v}" for k, v in self.request_headers.items()]
        if self.request_body:
            lines += ["", self.request_body]
        lines += ["", f"HTTP {self.status}  ({self.elapsed_ms:.0f} ms)"]
        lines += [f"{k}: {v}" for k, v in self.response_headers.items()]
        if self.response_body:
            lines += ["", self.response_body]
        return "\n".join(lines)


# Headers worth showing a learner; the rest (Date, Server, Connection...) is noise.
_SHOWN_HEADERS = {
    "authorization",
    "content-type",
    "accept",
    "cache-control",
    "www-authenticate",
    "location",
}


@dataclass
class Trace:
    """The exchanges recorded so far (newest last)."""

    exchanges: list[Exchange] = field(default_factory=list)

    def hook(self, response: requests.Response, *args, **kwargs) -> requests.Response:
        """A requests response hook that records the exchange."""
        request = response.request
        self.exchanges.append(
            Exchange(
                method=request.method or "",
                url=redact_url(request.url or ""),
                request_headers=redact_headers(
                    {k: v for k, v in request.headers.items() if k.lower() in _SHOWN_HEADERS}
                ),
                request_body=redact_body(request.body, request.headers.get("Content-Type", "")),
                status=response.status_code,
                response_headers=redact_headers(
                    {k: v for k, v in response.headers.items() if k.lower() in _SHOWN_HEADERS}
                ),
                response_body=redact_body(
                    response.content, response.headers.get("Content-Type", "")
                ),
                elapsed_ms=response.elapsed.total_seconds() * 1000,
            )
        )
        return response

    def clear(self) -> None:
        self.exchanges.clear()

    def __str__(self) -> str:
        return "\n\n".join(str(e) for e in self.exchanges) or "(no HTTP exchanges recorded)"

    def __repr__(self) -> str:
        return f"<Trace of {len(self.exchanges)} exchange(s)>"

    def _repr_html_(self) -> str:
        return (
            "".join(
                f"<details open><summary><code>{escape(e.method)} {escape(e.url)}</code> → "
                f"<b>{e.status}</b></summary><pre>{escape(str(e))}</pre></details>"
                for e in self.exchanges
            )
            or "<i>no HTTP exchanges recorded</i>"
        )
