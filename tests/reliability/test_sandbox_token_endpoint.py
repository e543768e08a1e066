"""The token endpoint's request shape (security review findings 4 and 5): a query string and a
repeated parameter are each an ``invalid_request`` in JSON, and nothing reaches the log as an
ERROR (RFC 6749 §3.2: the endpoint takes POST parameters, each at most once)."""

from __future__ import annotations

import logging

import pytest
import requests

from helpers.sandbox import serve_in_thread
from tests.sandbox.flows import basic, get_code

TIMEOUT = 10


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def box(tmp_path):
    records = Records()
    logger = logging.getLogger("helpers.sandbox")
    logger.addHandler(records)
    try:
        with serve_in_thread(tmp_path / "box") as sandbox:
            sandbox.records = records
            yield sandbox
    finally:
        logger.removeHandler(records)


def post(box, path, data, query=""):
    return requests.post(
        f"{box.url}{path}{query}",
        data=data,
        headers={"Authorization": basic(box.info.client_id, box.info.client_secret)},
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("query", ["?x=1", "?code=abc", "?", "?grant_type=refresh_token"])
def test_a_query_string_on_the_token_endpoint_is_invalid_request(box, standin_listener, query):
    code = get_code(box, standin_listener)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": standin_listener}
    answer = post(box, "/oauth/token", data, query)
    if query == "?":  # an empty query is no query
        assert answer.status_code == 200
        return
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == "invalid_request"
    assert "query" in answer.json()["error_description"].lower()
    assert not box.records.records, box.records.records[0].getMessage()[:500]


@pytest.mark.parametrize("name", ["code", "code_verifier", "grant_type", "redirect_uri"])
def test_a_repeated_parameter_at_the_token_endpoint_is_invalid_request(box, standin_listener, name):
    code = get_code(box, standin_listener)
    data = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", standin_listener),
    ]
    if name == "code_verifier":
        data += [("code_verifier", "a" * 43), ("code_verifier", "b" * 43)]
    else:
        data += [(name, dict(data)[name])]  # the same value twice is still twice
    answer = post(box, "/oauth/token", data)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert name in answer.json()["error_description"]
    # The code was not spent by the refused request.
    good = post(box, "/oauth/token", data[:3])
    assert good.status_code == 200, good.text


def test_a_repeated_refresh_token_is_invalid_request(box, standin_listener):
    code = get_code(box, standin_listener)
    first = post(
        box,
        "/oauth/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": standin_listener},
    ).json()
    data = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "not-this-one"),
        ("refresh_token", first["refresh_token"]),
    ]
    answer = post(box, "/oauth/token", data)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_a_repeated_token_at_the_revocation_endpoint_is_invalid_request(box):
    answer = post(box, "/oauth/revoke", [("token", "a"), ("token", "b")])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
