"""Fixtures shared by the helper tests: a clean environment and a scripted token endpoint."""

from __future__ import annotations

import pytest

from helpers.config import OAuthConfig
from tests.token_server import TokenServer

OAUTH_VARIABLES = (
    "OAUTH_SERVICE_URL",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_REDIRECT_URI",
    "OAUTH_SCOPES",
    "GOTO_API_URL",
    "OAUTHLIB_INSECURE_TRANSPORT",
    "OAUTHLIB_RELAX_TOKEN_SCOPE",
)

# Shaped like a GoTo secret: it holds '+', '/' and '=', which HTTP Basic encoding must survive.
SECRET = "Qk+9x/Zr2=tPw7Lm+eV4"


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No OAuth variables from the machine, and a working folder with no .env above it."""
    for name in OAUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def token_server():
    server = TokenServer()
    yield server
    server.close()


@pytest.fixture
def config(token_server, clean_env) -> OAuthConfig:
    return OAuthConfig(
        service_url=token_server.url,
        client_id="tutorial-client",
        client_secret=SECRET,
        redirect_uri="http://127.0.0.1:5000/login/oauth2/code/goto",
        scopes=("messaging.v1.send",),
        api_url=token_server.url,
    )
