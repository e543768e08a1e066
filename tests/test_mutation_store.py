"""Guards of the sandbox's store that no other test held in place (found by a mutation pass:
each guard broken by hand, one at a time). Straight against ``Store`` on a real SQLite file,
since their time limits are hours long; the login one through the sandbox's pages."""

from __future__ import annotations

import pytest

from helpers.sandbox.store import Store
from testing.scripted_browser import sign_in
from tests.sandbox.conftest import listener  # noqa: F401 - the stand-in callback listener
from tests.sandbox.flows import authorize_url, callback_params


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    yield store
    store.close()


def _pending(store: Store, session_hash: str, lifetime: float = 60.0) -> str:
    return store.put_pending(
        session_hash,
        uri="http://127.0.0.1:1/oauth/authorize?...",
        scopes=["messaging.v1.send"],
        client_id="c",
        redirect_uri="http://127.0.0.1:1/cb",
        state="s",
        lifetime=lifetime,
    )


def test_an_expired_session_is_no_session(store):
    live, _ = store.new_session(lifetime=60)
    dead, _ = store.new_session(lifetime=-1)
    assert store.get_session(live) is not None
    assert store.get_session(dead) is None


def test_a_pending_request_belongs_to_its_session_and_its_time(store):
    (mine, _), (theirs, _) = store.new_session(60), store.new_session(60)
    mine_hash, theirs_hash = store.get_session(mine).hash, store.get_session(theirs).hash
    txn = _pending(store, mine_hash)
    assert store.get_pending(txn, theirs_hash) is None  # another browser's session
    assert store.take_pending(txn, theirs_hash) is False
    assert store.get_pending(txn, mine_hash) is not None
    old = _pending(store, mine_hash, lifetime=-1)
    assert store.get_pending(old, mine_hash) is None  # expired
    assert store.take_pending(txn, mine_hash) is True
    assert store.take_pending(txn, mine_hash) is False  # once


def test_purging_forgets_expired_sessions_and_pending_requests_only(store):
    live, _ = store.new_session(60)
    dead, _ = store.new_session(-1)
    live_hash = store.get_session(live).hash
    keep, drop = _pending(store, live_hash), _pending(store, live_hash, lifetime=-1)
    store.purge_expired()
    counts = {
        table: store._one(f"SELECT count(*) AS n FROM {table}")["n"]
        for table in ("sessions", "pending")
    }
    assert counts == {"sessions": 1, "pending": 1}
    assert store.get_pending(keep, live_hash) is not None
    del dead, drop


def test_the_login_email_is_not_case_sensitive(sandbox, listener):  # noqa: F811
    response = sign_in(
        authorize_url(sandbox, listener), email=sandbox.info.user_email.upper(), password=None
    )
    assert "code" in callback_params(response)


def _code(store: Store, code: str = "the-code") -> str:
    store.put_code(
        code,
        client_id="c",
        email="learner@example.com",
        redirect_uri="http://127.0.0.1:1/cb",
        redirect_uri_given=True,
        scopes=["messaging.v1.send"],
        challenge=None,
        challenge_method=None,
        lifetime=60,
    )
    return code


def _token(store: Store, token: str, kind: str, code: str | None = None) -> str:
    store.put_token(
        token,
        kind=kind,
        client_id="c",
        email="learner@example.com",
        scopes=["messaging.v1.send"],
        family="family-1",
        code=code,
        lifetime=60,
    )
    return token


def test_tokens_issued_from_a_code_already_replayed_are_revoked_at_birth(store):
    # The exchange that won the claim may store its tokens after a replay was seen.
    code = _code(store)
    assert store.claim_code(code) is True
    store.mark_code_reused(code)
    _token(store, "late-access", "access", code)
    assert store.get_token("late-access").revoked


def test_a_token_of_one_kind_is_not_found_as_the_other(store):
    _token(store, "an-access-token", "access")
    _token(store, "a-refresh-token", "refresh")
    assert store.get_token("an-access-token", kind="refresh") is None
    assert store.get_token("a-refresh-token", kind="access") is None
    assert store.get_token("an-access-token", kind="access") is not None


def test_a_refresh_token_is_rotated_once_and_never_once_revoked(store):
    _token(store, "rt-1", "refresh")
    _token(store, "rt-2", "refresh")
    assert store.claim_refresh_token("rt-1") is True
    assert store.claim_refresh_token("rt-1") is False  # rotated already
    store.revoke_token("rt-2")
    assert store.claim_refresh_token("rt-2") is False  # revoked
