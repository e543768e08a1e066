"""helpers.flow: the decisions the notebooks' views and `python -m helpers` share."""

from __future__ import annotations

import time

from helpers import flow
from helpers.tokens import Token, TokenStore


def a_token(config, **overrides) -> Token:
    values = dict(
        access_token="AT-saved-0123456789",
        refresh_token="RT-saved-9876543210",
        expires_at=time.time() + 3600,
        scopes=("messaging.v1.send",),
        issuer=config.service_url,
    )
    values.update(overrides)
    return Token(**values)


def test_a_saved_unexpired_token_is_used_as_is(config, tmp_path):
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(config))
    said = []
    token = flow.saved_or_new_token(config, store, new_token=lambda: 1 / 0, say=said.append)
    assert token.access_token == "AT-saved-0123456789"
    assert said == [f"Using the token saved in {store.path}."]


def test_an_expired_saved_token_is_refreshed_and_saved(config, token_server, tmp_path):
    token_server.answer_json({"access_token": "AT-new-0123456789", "expires_in": 3600})
    store = TokenStore(tmp_path / "t.json")
    store.save(a_token(config, expires_at=time.time() - 10))
    said = []
    token = flow.saved_or_new_token(config, store, new_token=lambda: 1 / 0, say=said.append)
    assert token.access_token == "AT-new-0123456789"
    assert token.refresh_token == "RT-saved-9876543210"  # none came back: the old one is kept
    assert store.load().access_token == "AT-new-0123456789"
    assert "refreshed" in said[0]


def test_no_saved_token_or_a_refused_refresh_means_a_new_sign_in(config, token_server, tmp_path):
    store = TokenStore(tmp_path / "t.json")
    said = []
    fresh = a_token(config, access_token="AT-fresh-0123456789")
    assert flow.saved_or_new_token(config, store, new_token=lambda: fresh, say=said.append) is fresh
    assert store.load().access_token == "AT-fresh-0123456789"

    store.save(a_token(config, expires_at=time.time() - 10))
    token_server.answer_json({"error": "invalid_grant"}, status=400)
    token = flow.saved_or_new_token(config, store, new_token=lambda: fresh, say=said.append)
    assert token is fresh
    assert "No usable saved token" in said[0] and "InvalidGrant" in said[-1]
