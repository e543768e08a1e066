"""Client faults: the token endpoint and the API misbehaving in every way a network can.

Each of exchange, refresh, revoke and an API call must end in a named error from
helpers.errors (an ``OAuthTutorialError``) within its timeout: never a hang, never a bare
requests/urllib3 traceback. tests/test_tokens.py pins a few of these for ``exchange``; this
battery runs every fault against every call.
"""

from __future__ import annotations

import time

import pytest

from helpers import api, tokens
from helpers.authorization import AuthorizationRequest
from helpers.config import OAuthConfig
from helpers.errors import (
    ApiError,
    InvalidGrant,
    OAuthTutorialError,
    ServiceTimeout,
    ServiceUnreachable,
    UnexpectedResponse,
)
from testing.ports import free_port
from tests.conftest import SECRET

from .fault_server import FaultServer

TIMEOUT = 1.0
SLACK = 2.0  # seconds the battery allows beyond the timeout (thread start, 2 cores, CI)

TOKEN = tokens.Token(access_token="access-" + "a" * 30, refresh_token="refresh-" + "r" * 30)


def config_for(url: str) -> OAuthConfig:
    return OAuthConfig(
        service_url=url,
        client_id="tutorial-client",
        client_secret=SECRET,
        redirect_uri="http://127.0.0.1:5000/login/oauth2/code/goto",
        scopes=("messaging.v1.send",),
        api_url=url,
    )


CALLS = {
    "exchange": lambda cfg: tokens.exchange(
        cfg, AuthorizationRequest.new(cfg), "a-code", timeout=TIMEOUT
    ),
    "refresh": lambda cfg: tokens.refresh(cfg, TOKEN, timeout=TIMEOUT),
    "revoke": lambda cfg: tokens.revoke(cfg, TOKEN, timeout=TIMEOUT),
    "api": lambda cfg: api.call(cfg, TOKEN, "GET", api.ME_PATH, timeout=TIMEOUT),
}

# mode -> the named error each call must end in (None: the call succeeds, as it may).
EXPECTED = {
    "refuse": dict.fromkeys(CALLS, ServiceUnreachable),
    "hang": dict.fromkeys(CALLS, ServiceTimeout),
    "html_500": {**dict.fromkeys(CALLS, UnexpectedResponse), "api": ApiError},
    "text_200": {**dict.fromkeys(CALLS, UnexpectedResponse), "revoke": None},
    "rfc_error": {**dict.fromkeys(CALLS, InvalidGrant), "api": ApiError},
    "close_before_answer": dict.fromkeys(CALLS, ServiceUnreachable),
    "reset": dict.fromkeys(CALLS, ServiceUnreachable),
    "close_mid_body": dict.fromkeys(CALLS, OAuthTutorialError),
    "garbage_status": dict.fromkeys(CALLS, OAuthTutorialError),
    "huge": {**dict.fromkeys(CALLS, UnexpectedResponse), "revoke": None},
    "huge_json": {**dict.fromkeys(CALLS, OAuthTutorialError)},
}


@pytest.fixture(autouse=True)
def _no_oauth_env(clean_env):
    return clean_env


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("mode", list(EXPECTED))
def test_every_fault_ends_in_its_named_error_within_the_timeout(mode, call):
    server = None
    if mode == "refuse":
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    else:
        server = FaultServer(mode)
        url = server.url
    expected = EXPECTED[mode][call]
    started = time.monotonic()
    try:
        if expected is None:
            CALLS[call](config_for(url))
        else:
            with pytest.raises(expected) as caught:
                CALLS[call](config_for(url))
            assert isinstance(caught.value, OAuthTutorialError)
            message = str(caught.value)
            assert SECRET not in message and TOKEN.refresh_token not in message
            assert len(message) < 1000  # a huge body is not pasted into the message
    finally:
        if server is not None:
            server.close()
    seconds = time.monotonic() - started
    limit = TIMEOUT + SLACK if mode not in ("huge", "huge_json") else 10
    assert seconds < limit, f"{call} against {mode} took {seconds:.1f} s"


def test_a_trickling_token_endpoint_is_cut_off_at_the_timeout(clean_env):
    server = FaultServer("trickle")
    started = time.monotonic()
    try:
        with pytest.raises(ServiceTimeout):
            tokens.exchange(
                config_for(server.url),
                AuthorizationRequest.new(config_for(server.url)),
                "a-code",
                timeout=TIMEOUT,
            )
    finally:
        server.close()
    assert time.monotonic() - started < TIMEOUT + SLACK
