"""The protected API: RFC 6750 bearer errors, the message endpoint's validation, who am I."""

from __future__ import annotations

import re

import pytest
import requests

from tests.sandbox.flows import TIMEOUT, authorize_url, tokens_for, whoami

GOOD = {
    "ownerPhoneNumber": "+15551234567",
    "contactPhoneNumbers": ["+15557654321"],
    "body": "Hello from the OAuth tutorial",
}


def _send(sandbox, token, payload=GOOD, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(
        f"{sandbox.url}/messaging/v1/messages",
        json=payload,
        headers=headers,
        timeout=TIMEOUT,
        **kwargs,
    )


@pytest.fixture
def token(sandbox, listener):
    return tokens_for(sandbox, listener)["access_token"]


def test_sending_a_message_returns_201_with_id_and_timestamp(sandbox, token):
    answer = _send(sandbox, token)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["id"] and body["timestamp"].endswith("Z")
    assert body["body"] == GOOD["body"]
    assert body["contactPhoneNumbers"] == GOOD["contactPhoneNumbers"]
    assert sandbox.app.store.count_messages() == 1


def test_no_credentials_is_401_with_a_bearer_challenge_without_error_code(sandbox):
    answer = _send(sandbox, None)
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer realm=")
    assert "error=" not in challenge


def test_an_unknown_token_is_401_invalid_token(sandbox):
    answer = _send(sandbox, "not-a-token")
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    assert answer.json()["error"] == "invalid_token"


def test_a_token_without_the_scope_is_403_insufficient_scope(sandbox, listener):
    read_only = tokens_for(sandbox, listener, scope="messaging.v1.read")["access_token"]
    answer = _send(sandbox, read_only)
    assert answer.status_code == 403
    challenge = answer.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="messaging.v1.send"' in challenge
    assert answer.json()["error"] == "insufficient_scope"


def test_a_malformed_authorization_header_is_400_invalid_request(sandbox):
    answer = requests.post(
        f"{sandbox.url}/messaging/v1/messages",
        json=GOOD,
        headers={"Authorization": "Bearer two words"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"


def test_a_token_in_the_query_string_is_not_accepted(sandbox, token):
    answer = requests.get(
        f"{sandbox.url}/identity/v1/Users/me?access_token={token}", timeout=TIMEOUT
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ownerPhoneNumber": "5551234567"}, "ownerPhoneNumber"),
        ({"ownerPhoneNumber": 15551234567}, "ownerPhoneNumber"),
        ({"ownerPhoneNumber": None}, "ownerPhoneNumber"),
        ({"contactPhoneNumbers": []}, "contactPhoneNumbers"),
        ({"contactPhoneNumbers": "+15557654321"}, "contactPhoneNumbers"),
        ({"contactPhoneNumbers": ["+15557654321", "call me"]}, "contactPhoneNumbers"),
        ({"body": ""}, "body"),
        ({"body": "   "}, "body"),
        ({"body": 42}, "body"),
        ({"body": "x" * 1001}, "body"),
    ],
)
def test_an_invalid_message_is_400_naming_the_field(sandbox, token, change, field):
    payload = {**GOOD, **change}
    answer = _send(sandbox, token, payload)
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert field in answer.json()["error_description"]


def test_a_1000_character_message_is_accepted(sandbox, token):
    assert _send(sandbox, token, {**GOOD, "body": "x" * 1000}).status_code == 201


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_400(sandbox, token, raw):
    answer = requests.post(
        f"{sandbox.url}/messaging/v1/messages",
        data=raw,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 400


def test_who_am_i_returns_principal_display_name_and_scopes(sandbox, listener):
    tokens = tokens_for(sandbox, listener, scope="messaging.v1.read identity:scim.me")
    me = whoami(sandbox, tokens["access_token"])
    assert me.status_code == 200
    body = me.json()
    assert body["principal"] == body["userName"] == sandbox.info.user_email
    assert body["displayName"] == "Demo Learner"
    assert body["scopes"] == ["messaging.v1.read", "identity:scim.me"]


def test_unknown_paths_are_404_json(sandbox):
    answer = requests.get(f"{sandbox.url}/messaging/v1/nothing", timeout=TIMEOUT)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_who_am_i_needs_no_profile_scope_and_the_consent_page_does_not_pretend_it_does(
    sandbox, listener
):
    tokens = tokens_for(sandbox, listener, scope="messaging.v1.send")
    me = whoami(sandbox, tokens["access_token"])
    assert me.status_code == 200 and me.json()["userName"] == sandbox.info.user_email
    # So the consent line of identity:scim.me must not promise that declining it hides them.
    browser = requests.Session()
    login = browser.get(
        authorize_url(sandbox, listener, scope="messaging.v1.send identity:scim.me"),
        timeout=TIMEOUT,
    )
    fields = dict(re.findall(r'name="(csrf_token|txn)" value="([^"]*)"', login.text))
    consent = browser.post(
        f"{sandbox.url}/oauth/login",
        data={**fields, "email": sandbox.info.user_email, "password": sandbox.info.user_password},
        timeout=TIMEOUT,
    )
    item = re.search(r"<li>((?:(?!</li>).)*identity:scim\.me(?:(?!</li>).)*)</li>", consent.text)
    assert item, consent.text
    assert "See your name and email address" not in item.group(1)
    assert "with or without this scope" in item.group(1)
