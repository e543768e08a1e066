"""Unauthenticated requests cannot grow the sandbox's database without bound (security review
finding 8): ``state`` and the request's length are capped (a clear error page), a browser
session keeps a few pending requests at most, and sessions nobody signed in to are pruned.

Each case sends 200 hostile ``GET /oauth/authorize`` requests (no cookie, so each one would be a
new session) and measures the database after a checkpoint; before the fix 200 long states
added about 26 MB.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests

from helpers.sandbox import serve_in_thread
from tests.sandbox.flows import authorize_url

from .conftest import PATH

TIMEOUT = 10
REDIRECT = f"http://127.0.0.1:5000{PATH}"
LIMIT = 1024 * 1024  # bytes of database after 200 hostile requests


@pytest.fixture
def box(tmp_path):
    with serve_in_thread(tmp_path / "box") as sandbox:
        yield sandbox


def db_size(sandbox) -> int:
    path = Path(sandbox.info.data_dir) / "sandbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def rows(sandbox, table: str) -> int:
    return sandbox.app.store._one(f"SELECT count(*) AS n FROM {table}")["n"]


def test_a_long_state_is_refused_with_a_clear_page_and_stores_nothing(box):
    before = db_size(box)
    with requests.Session() as http:
        for n in range(200):
            http.cookies.clear()
            answer = http.get(
                authorize_url(box, REDIRECT, state=f"{n}" + "s" * 60_000), timeout=TIMEOUT
            )
            assert answer.status_code == 400
            assert "state" in answer.text and "Location" not in answer.headers
    assert db_size(box) - before < LIMIT
    assert rows(box, "pending") == 0


def test_a_long_request_is_refused_with_a_clear_page(box):
    answer = requests.get(
        authorize_url(box, REDIRECT, scope="messaging.v1.send", padding="p" * 8000), timeout=TIMEOUT
    )
    assert answer.status_code in (400, 414)
    assert "too long" in answer.text.lower()


def test_200_cookieless_requests_at_the_caps_keep_the_database_small(box):
    before = db_size(box)
    for n in range(200):
        answer = requests.get(
            authorize_url(box, REDIRECT, state=f"{n:04}" + "s" * 500), timeout=TIMEOUT
        )
        assert answer.status_code == 200
    assert db_size(box) - before < LIMIT


def test_one_session_keeps_only_its_newest_pending_requests(box):
    with requests.Session() as browser:
        for n in range(200):
            assert browser.get(authorize_url(box, REDIRECT, state=f"s{n}"), timeout=TIMEOUT).ok
        assert rows(box, "sessions") == 1
        assert rows(box, "pending") <= 10
        # The newest one is still good: the learner's last click works.
        last = browser.get(authorize_url(box, REDIRECT, state="last"), timeout=TIMEOUT)
        assert 'action="/oauth/login"' in last.text


def test_sessions_nobody_signed_in_to_and_pending_requests_are_capped(box, monkeypatch):
    from helpers.sandbox import store

    monkeypatch.setattr(store, "ANONYMOUS_SESSIONS", 50)  # 1,000 by default: same rule
    monkeypatch.setattr(store, "PENDING_ALL", 55)
    for n in range(80):
        requests.get(authorize_url(box, REDIRECT, state=f"s{n}"), timeout=TIMEOUT)
    assert rows(box, "sessions") == 50
    assert rows(box, "pending") == 50
    with requests.Session() as browser:  # one more browser, keeping its cookie: 10 of its own
        for n in range(20):
            browser.get(authorize_url(box, REDIRECT, state=f"b{n}"), timeout=TIMEOUT)
    assert rows(box, "sessions") == 50
    assert rows(box, "pending") == 55  # 49 others' and 10 of its own, the oldest pruned
