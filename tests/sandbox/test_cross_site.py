"""What a web page in the learner's browser can and cannot make the sandbox do.

Pages on other sites can send the sandbox simple requests (no CORS preflight) and, with DNS
rebinding, even read its answers. The sandbox refuses requests not addressed to it by name
(``Host``) and fault-switch requests that a page could forge.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.sandbox.flows import TIMEOUT


def _port(sandbox) -> int:
    return urlsplit(sandbox.url).port


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]"])
def test_requests_naming_the_sandbox_are_answered(sandbox, name):
    answer = requests.get(
        sandbox.url + "/health", headers={"Host": f"{name}:{_port(sandbox)}"}, timeout=TIMEOUT
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1:1", "localhost.evil.example:{port}"]
)
def test_a_dns_rebinding_page_cannot_read_the_request_log(sandbox, host):
    requests.get(sandbox.url + "/health", timeout=TIMEOUT)  # something to see
    answer = requests.get(
        sandbox.url + "/debug/requests",
        headers={"Host": host.format(port=_port(sandbox))},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 421
    assert "/health" not in answer.text


def test_a_misaddressed_request_flips_no_switch(sandbox):
    answer = requests.post(
        sandbox.url + "/sandbox/token-lifetimes",
        json={"access_token": 1},
        headers={"Host": f"evil.example:{_port(sandbox)}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 421
    assert sandbox.app.settings.access_token_lifetime != 1


# A page's fetch(url, {method: "POST", mode: "no-cors", headers: {"Content-Type": ...}}) is a
# "simple" request (no CORS preflight) only with a form-like media type; its Origin is the page's.
@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "text/plain; charset=json", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain; charset=json"},
        {"Content-Type": "application/x-www-form-urlencoded; x=json"},
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
        {"Content-Type": "application/json", "Origin": "null"},  # a sandboxed iframe, file://
    ],
)
def test_a_web_page_cannot_flip_the_fault_switches(sandbox, headers):
    # Even one that somehow had the control token: the media type and Origin still refuse it.
    answer = requests.post(
        sandbox.url + "/sandbox/token-lifetimes",
        data=b'{"access_token": 1}',
        headers={**headers, "X-Sandbox-Control": sandbox.info.control_token},
        timeout=TIMEOUT,
    )
    assert answer.status_code in (400, 403), answer.text
    assert sandbox.app.settings.access_token_lifetime != 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "Application/JSON; charset=utf-8"},
        {"Content-Type": "application/json", "Origin": "{url}"},
    ],
)
def test_the_fault_switches_answer_json_from_this_machine(sandbox, headers):
    headers = {k: v.format(url=sandbox.url) for k, v in headers.items()}
    headers["X-Sandbox-Control"] = sandbox.info.control_token  # only the owner's
    answer = requests.post(
        sandbox.url + "/sandbox/token-lifetimes",
        data=b'{"access_token": 7}',
        headers=headers,
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert sandbox.app.settings.access_token_lifetime == 7
