"""Fifty learners signing in at once: every one completes, and nobody gets anyone else's token."""

from __future__ import annotations

import concurrent.futures
import time

import requests

from tests.sandbox.flows import TIMEOUT, exchange, get_code, whoami

LEARNERS = 50


def test_fifty_concurrent_learners_each_get_their_own_principal_and_token(sandbox, listener):
    emails = [f"learner{i:02d}@example.com" for i in range(LEARNERS)]
    for i, email in enumerate(emails):
        sandbox.add_user(email, f"password-{i}")

    def learner(i: int) -> tuple[str, dict, dict, int]:
        email = emails[i]
        code = get_code(sandbox, listener, email=email, password=f"password-{i}", state=f"s{i}")
        token = exchange(sandbox, code, listener).json()
        me = whoami(sandbox, token["access_token"]).json()
        sent = requests.post(
            f"{sandbox.url}/messaging/v1/messages",
            json={
                "ownerPhoneNumber": "+15550000000",
                "contactPhoneNumbers": [f"+1555{i:07d}"],
                "body": f"from {email}",
            },
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=TIMEOUT,
        )
        return email, token, me, sent.status_code

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(LEARNERS) as pool:
        results = list(pool.map(learner, range(LEARNERS)))
    elapsed = time.perf_counter() - started

    for email, token, me, status in results:
        assert token["principal"] == email
        assert me["principal"] == email
        assert status == 201
    assert len({token["access_token"] for _, token, _, _ in results}) == LEARNERS
    assert len({token["refresh_token"] for _, token, _, _ in results}) == LEARNERS
    assert sandbox.app.store.count_messages() == LEARNERS
    assert elapsed < 30
