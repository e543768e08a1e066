"""Masking secrets for display: the one convention the helpers and the sandbox share."""

from __future__ import annotations

import json

from helpers.redact import mask, redact_body, redact_header, redact_pairs, redact_url

TOKEN = "AT-0123456789abcdefghij"


def test_mask_keeps_only_the_last_four_characters():
    assert mask("Qk+9x/Zr2=tPw7Lm+eV4") == "…+eV4"
    assert mask("short") == "…****" and mask(None) == mask("") == "<none>"


def test_form_pairs_are_decoded_with_secrets_masked():
    shown = redact_pairs(
        "grant_type=authorization_code&code=the-code-value-123&code_verifier=" + "v" * 43
    )
    assert shown == "grant_type=authorization_code&code=…-123&code_verifier=…vvvv"


def test_a_redirect_url_loses_its_code_and_state():
    assert redact_url("http://127.0.0.1:5000/cb?code=abcdefghijklmnop&state=xyz-state-1234") == (
        "http://127.0.0.1:5000/cb?code=…mnop&state=…1234"
    )


def test_a_redirect_uri_parameter_is_redacted_as_a_url():
    shown = redact_pairs(
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb%3Fcode%3Dabcdefghijklmnop"
    )
    assert shown == "redirect_uri=http://127.0.0.1:5000/cb?code=…mnop"


def test_printable_escapes_what_a_terminal_would_act_on():
    from helpers.redact import printable

    assert printable("/cb\r\n[received] \x1b[32mok\u202e") == (
        "/cb\\r\\n[received] \\x1b[32mok\\u202e"
    )
    assert printable("é and 𝛑 stay") == "é and 𝛑 stay"
    assert printable("x" * 400, 10) == "x" * 10 + "…"


def test_headers_basic_shows_nothing_bearer_shows_four_every_cookie_masked():
    assert redact_header("Authorization", "Basic dXNlcjpwYXNz") == "Basic (masked)"
    assert redact_header("Authorization", f"Bearer {TOKEN}") == "Bearer …ghij"
    cookies = "session=SANDBOXSESSIONIDSECRET1; username-127-0-0-1-8888=FULLJUPYTERSESSIONSECRET"
    shown = redact_header("Cookie", cookies)
    assert "SANDBOXSESSIONIDSECRET1" not in shown and "FULLJUPYTERSESSIONSECRET" not in shown
    assert redact_header("Content-Type", "application/json") == "application/json"


def test_json_is_recognised_whatever_the_content_type_says():
    body = json.dumps(
        {"access_token": TOKEN, "nested": [{"refresh_token": TOKEN}], "expires_in": 3600}
    )
    for content_type in ("application/json", "text/plain", ""):
        shown = redact_body(body, content_type)
        assert TOKEN not in shown and '"expires_in": 3600' in shown


def test_unlabelled_form_bodies_and_unknown_text_lose_their_credentials():
    assert "the-code-value-123" not in redact_body("code=the-code-value-123&x=1", "text/plain")
    assert TOKEN not in redact_body(f"your token is {TOKEN}, keep it", "text/plain")
    assert redact_body(b"<html>page</html>", "text/html") == "[HTML page, 17 characters]"
