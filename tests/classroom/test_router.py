"""The class callback service in-process (classroom/router.py), on a real loopback port: what
the hub is not needed for. The whole hub is in test_hub.py."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "classroom"))  # as the hub runs it
import router  # noqa: E402

PREFIX = "/services/oauth-callback/"


@pytest.fixture
def service():
    app = router.make_app(
        {"JUPYTERHUB_SERVICE_PREFIX": PREFIX, "JUPYTERHUB_API_TOKEN": "service-token"}
    )
    loop = asyncio.new_event_loop()
    ready, holder = threading.Event(), {}

    def serve():
        asyncio.set_event_loop(loop)
        holder["server"] = router.listen(app, 0, "127.0.0.1")  # as main() does
        ready.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    ready.wait(10)
    port = next(iter(holder["server"]._sockets.values())).getsockname()[1]
    yield app, f"http://127.0.0.1:{port}{PREFIX}"
    loop.call_soon_threadsafe(holder["server"].stop)
    loop.call_soon_threadsafe(loop.stop)


def test_a_state_registered_by_one_learner_cannot_be_taken_over_by_another(service):
    registry = service[0].settings["registry"]
    assert registry.register("alice", "S", 40001) is None
    assert "another learner's" in registry.register("mallory", "S", 40002)
    assert registry.take("S") == ("alice", 40001)
    assert registry.register("alice", "T", 40001) is None  # her own again: fine


def test_the_browser_goes_on_to_the_learners_server_by_its_quoted_name(service):
    app, url = service
    app.settings["registry"].register("ann marie", "S2", 40003)
    answer = requests.get(url, params={"code": "c", "state": "S2"}, allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"/user/ann%20marie/proxy/40003{PREFIX}?")


def test_a_refused_callback_is_logged_without_its_code_and_state(service, caplog):
    _, url = service
    with caplog.at_level(logging.INFO, logger="tornado.access"):
        answer = requests.get(url, params={"code": "SECRETCODE123", "state": "unknown-state"})
    assert answer.status_code == 400
    deadline = time.monotonic() + 5  # the line is written just after the answer is sent
    while not caplog.records and time.monotonic() < deadline:
        time.sleep(0.02)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "400 GET" in logged and "[secret]" in logged
    assert "SECRETCODE123" not in logged and "unknown-state" not in logged


@pytest.fixture
def learners(service, monkeypatch):
    """The service, each learner's hub token standing for their name (the hub's answer)."""
    app, url = service

    async def user_for_token(token, sync=False):
        return {"kind": "user", "name": token}

    monkeypatch.setattr(app.settings["hub_auth"], "user_for_token", user_for_token)

    def post(user, endpoint, body):
        headers = {"Authorization": f"token {user}"}
        return requests.post(url + endpoint, json=body, headers=headers, timeout=10)

    return app, post


@pytest.mark.parametrize(
    "endpoint", ["api/report", "api/pending"], ids=["reports", "registrations"]
)
def test_a_learner_who_posts_in_a_loop_is_cut_off_and_others_are_not(learners, endpoint):
    app, post = learners
    report = {"exercise": "2.1", "status": "wrong"}

    def body(i, port=40000):
        return report if endpoint == "api/report" else {"state": f"S{i}", "port": port}

    answers = [post("mallory", endpoint, body(i)) for i in range(router.REQUESTS_PER_MINUTE + 5)]
    assert [a.status_code for a in answers].count(200) == router.REQUESTS_PER_MINUTE
    refused = answers[-1]
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "a minute" in refused.json()["error"]
    assert post("alice", endpoint, body(99, 40001)).status_code == 200  # others lose nothing
    if endpoint == "api/report":
        assert app.settings["progress"].learners()["mallory"].exercises == {"2.1": "wrong"}
    else:  # her newest attempts wait for their callback, her oldest were dropped
        registry = app.settings["registry"]
        assert registry.take(f"S{router.REQUESTS_PER_MINUTE - 1}") == ("mallory", 40000)
        assert registry.take("S0") is None


def test_a_body_larger_than_a_report_is_not_read(learners):
    _, post = learners
    small = {"error": "CallbackTimeout", "message": "x" * 1000}
    assert post("alice", "api/report", small).status_code == 200
    huge = {"error": "CallbackTimeout", "message": "x" * (router.MAX_BODY + 1)}
    try:  # tornado answers 400 and closes, perhaps while the body is still being sent
        status = post("alice", "api/report", huge).status_code
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
        status = "closed"
    assert status in (400, "closed")
